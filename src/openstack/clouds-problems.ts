// Turns the generated validator's ajv errors into one line per problem, each naming the cloud
// and the field, in words an operator can act on. Values are never quoted (a mistyped field
// may hold a password); only their kind ("a number") is.
import { quoteCloudName } from './cloud-name.js';
import type { CloudsValidationError } from './generated/clouds-validator.js';

const QUOTE_HINT = ' (quote it: YAML reads unquoted values like 0123, 1e5 or yes as numbers or booleans)';

export function describeValidationErrors(errors: readonly CloudsValidationError[], data: unknown): string[] {
  const consumed = new Set<CloudsValidationError>();
  // anyOf errors come after their branches' errors: say "a or b is required" once instead.
  errors.forEach((err, i) => {
    if (err.keyword !== 'anyOf') return;
    for (const child of errors.slice(0, i)) {
      if (child.instancePath === err.instancePath && child.schemaPath.startsWith(`${err.schemaPath}/`)) consumed.add(child);
    }
  });
  const lines: string[] = [];
  for (const err of errors) {
    if (consumed.has(err) || err.keyword === 'if') continue;
    const children = errors.filter((e) => consumed.has(e) && e.instancePath === err.instancePath && e.schemaPath.startsWith(`${err.schemaPath}/`));
    const line = describe(err, children, data);
    if (line && !lines.includes(line)) lines.push(line);
  }
  return lines.length ? lines : ['clouds.yaml does not match the expected layout'];
}

function describe(err: CloudsValidationError, children: CloudsValidationError[], data: unknown): string | undefined {
  const path = pointerSegments(err.instancePath);
  // Errors about a cloud's name carry the offending name (propertyNames).
  if (err.keyword === 'propertyNames' || err.propertyName !== undefined) {
    const name = err.propertyName ?? (typeof err.params.propertyName === 'string' ? err.params.propertyName : '?');
    return `cloud ${quoteCloudName(name)}: a cloud name must start with a letter or digit and contain only letters, digits, ".", "_" and "-"`;
  }
  const inCloud = path[0] === 'clouds' && path.length >= 2;
  const prefix = inCloud ? `cloud ${quoteCloudName(path[1] as string)}: ` : 'clouds.yaml: ';
  const fieldParts = inCloud ? path.slice(2) : path;
  const field = (extra?: string): string => [...fieldParts, ...(extra ? [extra] : [])].join('.');
  const value = valueAt(data, path);
  const subject = field() || (inCloud ? 'the cloud' : 'the document');

  switch (err.keyword) {
    case 'required': {
      const missing = String(err.params.missingProperty);
      if (!inCloud && path.length === 0 && missing === 'clouds') return 'clouds.yaml: the top-level "clouds:" key is missing';
      if (missing === 'password' && hasKey(value, 'application_credential_secret')) {
        return `${prefix}${field('password')} is required (or set auth_type: v3applicationcredential to use the application credential)`;
      }
      return `${prefix}${field(missing)} is required`;
    }
    case 'anyOf': {
      const alternatives = children.filter((c) => c.keyword === 'required').map((c) => String(c.params.missingProperty));
      if (alternatives.length && alternatives.length === children.length) {
        if (alternatives.includes('user_domain_name')) return `${prefix}${field('user_domain_name')} or ${field('user_domain_id')} is required with ${field('username')}`;
        if (alternatives.includes('project_domain_name')) return `${prefix}${field('project_domain_name')} or ${field('project_domain_id')} is required with ${field('project_name')}`;
        if (alternatives.includes('project_name')) return `${prefix}${field('project_name')} or ${field('project_id')} is required (the client needs a project-scoped token)`;
        return `${prefix}${alternatives.map((a) => field(a)).join(' or ')} is required`;
      }
      if (fieldParts.at(-1) === 'identity_api_version') return `${prefix}identity_api_version must be 3 (only the Keystone v3 API is supported)`;
      return `${prefix}${subject} is not valid`;
    }
    case 'type': {
      const expected = String(err.params.type);
      if (!inCloud && field() === 'clouds') return `clouds.yaml: "clouds" must be a mapping of cloud names to their settings, not ${kindOf(value)}`;
      if (inCloud && fieldParts.length === 0) return `${prefix}must be a mapping of settings, not ${kindOf(value)}`;
      const hint = expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? QUOTE_HINT : '';
      return `${prefix}${subject} must be ${article(expected)}, not ${kindOf(value)}${hint}`;
    }
    case 'enum': {
      const allowed = Array.isArray(err.params.allowedValues) ? (err.params.allowedValues as unknown[]).map(String) : [];
      return `${prefix}${subject} must be one of: ${allowed.join(', ')}`;
    }
    case 'pattern': {
      if (fieldParts.at(-1) === 'auth_url') return `${prefix}${subject} must be an http:// or https:// URL`;
      return `${prefix}${subject} must not be empty`;
    }
    case 'minProperties':
      return 'clouds.yaml: "clouds" is empty; define at least one cloud';
    case 'not':
      return `${prefix}${subject} (client certificates) is not supported; remove it`;
    default:
      return `${prefix}${subject} ${err.message ?? 'is not valid'}`;
  }
}

/** How a value looks, for messages that must not show the value itself. */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'boolean') return 'a boolean';
  return typeof value;
}

function article(type: string): string {
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  if (type === 'integer') return 'an integer';
  return `a ${type}`;
}

function pointerSegments(pointer: string): string[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(data: unknown, path: string[]): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function hasKey(value: unknown, key: string): boolean {
  return value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key);
}

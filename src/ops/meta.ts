// What the charm declares: metadata.yaml (endpoints), config.yaml (option types), actions.yaml.
// Hooks are fresh processes, so a packed charm passes these in pre-parsed (see the build step);
// loadCharmMeta reads the YAML files for development and tests.
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type ConfigType = 'string' | 'int' | 'float' | 'boolean' | 'secret';

export interface CharmMeta {
  readonly name: string;
  /** Endpoint name -> interface, for provides/requires/peers. */
  readonly endpoints: Readonly<Record<string, { readonly role: 'provides' | 'requires' | 'peers'; readonly interface: string }>>;
  readonly config: Readonly<Record<string, { readonly type: ConfigType; readonly default?: unknown }>>;
  readonly actions: Readonly<Record<string, { readonly params?: Readonly<Record<string, unknown>> }>>;
}

type Yamlish = Record<string, unknown>;

/** Builds a CharmMeta from the parsed documents of the three files. */
export function charmMetaFrom(metadata: Yamlish, config: Yamlish | null, actions: Yamlish | null): CharmMeta {
  const endpoints: Record<string, CharmMeta['endpoints'][string]> = {};
  for (const role of ['provides', 'requires', 'peers'] as const) {
    const section = (metadata[role] ?? {}) as Record<string, { interface?: string }>;
    for (const [name, spec] of Object.entries(section)) endpoints[name] = { role, interface: String(spec?.interface ?? '') };
  }
  const options = ((config?.options ?? {}) as Record<string, { type?: string; default?: unknown }>);
  const cfg: Record<string, CharmMeta['config'][string]> = {};
  for (const [name, spec] of Object.entries(options)) {
    cfg[name] = { type: (spec?.type ?? 'string') as ConfigType, ...(spec && 'default' in spec ? { default: spec.default } : {}) };
  }
  const acts: Record<string, CharmMeta['actions'][string]> = {};
  for (const [name, spec] of Object.entries(actions ?? {})) {
    acts[name] = { params: ((spec as Yamlish | null)?.params ?? {}) as Record<string, unknown> };
  }
  return { name: String(metadata.name ?? ''), endpoints, config: cfg, actions: acts };
}

/** Reads metadata.yaml, config.yaml and actions.yaml from a charm directory. */
export async function loadCharmMeta(charmDir: string): Promise<CharmMeta> {
  const { parse } = await import('yaml');
  const read = (file: string): Yamlish | null => {
    try {
      return (parse(readFileSync(path.join(charmDir, file), 'utf8')) ?? {}) as Yamlish;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  };
  const metadata = read('metadata.yaml');
  if (!metadata) throw new Error(`metadata.yaml not found in charm directory ${charmDir}`);
  return charmMetaFrom(metadata, read('config.yaml'), read('actions.yaml'));
}

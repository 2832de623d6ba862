// The charm's YAML files (metadata.yaml, config.yaml, actions.yaml) as the build scripts read
// them, the same way src/ops/meta.ts does at run time: a missing file is null, an empty one {}.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export function readCharmYaml(charmDir, file) {
  try {
    return parse(readFileSync(path.join(charmDir, file), 'utf8')) ?? {};
  } catch (err) {
    if (err.code === 'ENOENT') return null;
    throw err;
  }
}

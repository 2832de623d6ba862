// Simulated units of a charm (the real one unless told otherwise) for one test file: the charm
// dir is built once before the file's tests, each unit runs from its own copy (its own unit
// state), and every unit, its processes (background builds) and the copies go after them.
import { rmSync } from 'node:fs';
import { BUILD_RUNNING_PATH } from '../../src/charm/paths.js';
import { buildImageBuilderCharmDir, copyCharmDir } from './charm-dir.js';
import { eventually } from './eventually.js';
import { createUnit, type CreateUnitOptions, type SimUnit } from './juju.js';

/**
 * The status install leaves on a unit with the default config (base noble): the build it
 * started runs beside the hook and may already say which phase it is in when install sets it.
 */
export const FIRST_IMAGE_STATUS = /^Waiting for first image( \((preparing the builder: downloading base images|building noble-github-runner-image-builder-x64)\))?$/;

/** Waits until the unit's background build has ended (its running record is gone). */
export const buildsDone = (u: SimUnit): Promise<true> => eventually('the build to end', () => !u.readHostFile(BUILD_RUNNING_PATH));

type Hook = (fn: () => Promise<void> | void) => void;

export function charmUnits(hooks: { beforeAll: Hook; afterAll: Hook }, build: () => Promise<string> = buildImageBuilderCharmDir): (opts: Omit<CreateUnitOptions, 'charmDir'>) => SimUnit {
  let built: string | undefined;
  const cleanups: (() => void)[] = [];
  hooks.beforeAll(async () => {
    built = await build();
  });
  hooks.afterAll(() => {
    for (const c of cleanups.splice(0)) c();
    if (built) rmSync(built, { recursive: true, force: true });
  });
  return (opts) => {
    const charmDir = copyCharmDir(built!);
    const u = createUnit({ ...opts, charmDir });
    cleanups.push(() => {
      u.cleanup();
      rmSync(charmDir, { recursive: true, force: true });
    });
    return u;
  };
}

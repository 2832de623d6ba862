/* eslint-disable @typescript-eslint/no-require-imports, no-undef -- CommonJS run by node as dist/copier.js */
// The copier's stand-in for process tests (installed as <charm>/dist/copier.js of a test charm
// dir): it follows the real copier's file contract (src/copier/main.ts, docs/consumer-copies.md)
// without a cloud that can take uploads. It reads the request under CHARM_HOST_ROOT, "copies"
// every base into every cloud as id copy-<cloud index>-<base> (the loopback stand-in cloud
// reports unknown ids as active images of the build's name), writes the result, and marks the
// request served. Knob: $CHARM_HOST_ROOT/../copier-fail (a cloud name) makes that cloud's copies fail.
// CommonJS, as the real dist/copier.js: a charm dir has no package.json that says "module".
const { readFileSync, renameSync, writeFileSync, existsSync } = require('node:fs');
const path = require('node:path');

const root = process.env.CHARM_HOST_ROOT || '/';
const at = (p) => path.join(root, p);
const STATE = '/var/lib/github-runner-image-builder';
const text = readFileSync(at(`${STATE}/copy-request.json`), 'utf8');
const request = JSON.parse(text);
const failKnob = path.join(root, '..', 'copier-fail');
const failing = existsSync(failKnob) ? readFileSync(failKnob, 'utf8').trim() : '';
const outcomes = request.clouds.flatMap((cloud, i) =>
  request.images.map((image) =>
    cloud === failing
      ? { cloud, base: image.base, sourceId: image.id, error: `cloud ${cloud}: the stand-in was told to fail`, durationMs: 1 }
      : { cloud, base: image.base, sourceId: image.id, image: { id: `copy-${i}-${image.base}`, name: image.name, createdAt: new Date(Date.now() - 60_000).toISOString() }, bytes: 1, durationMs: 1 },
  ),
);
const write = (p, content) => {
  writeFileSync(`${at(p)}.tmp`, content, { mode: 0o600 });
  renameSync(`${at(p)}.tmp`, at(p));
};
write(`${STATE}/copy-result.json`, `${JSON.stringify({ finishedAt: new Date().toISOString(), outcomes })}\n`);
write(`${STATE}/copy-request.served`, text);

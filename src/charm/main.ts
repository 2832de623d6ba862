// The charm's process entry point (bundled into dist/charm.js).
import meta from 'virtual:charm-meta';
import { main } from '../ops/main.js';
import { ImageBuilderCharm } from './charm.js';

// Not awaited: the bundle is CommonJS (scripts/bundle.mjs), which has no top-level await; main
// sets process.exitCode itself.
void main(ImageBuilderCharm, meta);

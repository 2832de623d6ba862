// The charm's process entry point (bundled into dist/charm.js).
import meta from 'virtual:charm-meta';
import { main } from '../ops/main.js';
import { ImageBuilderCharm } from './charm.js';

await main(ImageBuilderCharm, meta);

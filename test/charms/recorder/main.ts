// Entry point bundled into the test charm's charm.js.
import { main } from '../../../src/ops/index.js';
import { RecorderCharm } from './charm.js';

void main(RecorderCharm);

import { referenceBackend } from '../../src/index.js';
import { conformanceSuite } from './conformance.js';

conformanceSuite(referenceBackend);

export { crc32c, maskedCrc32c } from './crc32c.js';
export { EventFileWriter, readEventFile, scalarEvent, tfRecord } from './event-file.js';
export { TensorboardLog } from './run-log.js';
export { scalarsOf, type StepScalars } from './scalars.js';

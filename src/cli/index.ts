export { runDoctor } from './doctor.js';
export type { DoctorOptions } from './doctor.js';
export { formatDoctorReport, renderDoctorReport } from './format.js';
export type { DoctorCheck, DoctorFacts, DoctorReport, DoctorStatus } from './report.js';
export type { DoctorConfigFile } from './config.js';

export { createTestPki } from './pki.js';
export type { CreateTestPkiOptions, IssueOptions, IssuedCertificate, BadVariant, WriteOptions, TestPki } from './pki.js';
export { writeAtomicSet, writeFilesOneByOne, listPayloadDirs, LAYOUT_FILES } from './layout.js';
export type { PkiLayout, LayoutFileNames, CertificateFiles, OneByOneOptions } from './layout.js';
export type { KeyUsageName } from './generate.js';

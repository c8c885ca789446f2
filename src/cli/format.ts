import type { DoctorReport, DoctorStatus } from './report.js';

const LABEL: Readonly<Record<DoctorStatus, string>> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/**
 * Renders a doctor report as a plain-text table: one row per check, and an
 * indented `fix:` line under every warning or failure.
 */
export function formatDoctorReport(report: DoctorReport): string {
  const titleWidth = Math.min(28, Math.max(5, ...report.checks.map((c) => c.title.length)));
  const lines: string[] = [];
  lines.push(`secure-nosql doctor: ${report.serviceId ?? '(no service identity)'} (configuration from ${report.configSource})`);
  lines.push('');
  lines.push(`  ${'STATUS'.padEnd(6)}  ${'CHECK'.padEnd(titleWidth)}  DETAIL`);
  const indent = ' '.repeat(2 + 6 + 2);
  for (const c of report.checks) {
    lines.push(`  ${LABEL[c.status].padEnd(6)}  ${c.title.padEnd(titleWidth)}  ${c.detail}`);
    if (c.remediation !== undefined && (c.status === 'fail' || c.status === 'warn')) {
      lines.push(`${indent}fix: ${c.remediation}`);
    }
  }
  const s = report.summary;
  lines.push('');
  lines.push(`${s.pass} passed, ${s.warn} warning(s), ${s.fail} failed, ${s.skip} skipped: ${report.ok ? 'OK' : 'FAILED'}`);
  return lines.join('\n') + '\n';
}

/** Renders a report as `--json` (pretty JSON) or as the table, as `options.json` asks. */
export function renderDoctorReport(report: DoctorReport, options: { readonly json?: boolean } = {}): string {
  return options.json === true ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report);
}

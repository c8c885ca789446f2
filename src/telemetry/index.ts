export { Telemetry, BREAKER_STATE_VALUE } from './telemetry.js';
export type { TelemetryOptions, BreakerStateName, BreakerStateReader } from './telemetry.js';
export { redact, REDACTED } from './redact.js';
export { ATTR, METRIC, SPAN_EVENT, INSTRUMENTATION_SCOPE, dbSystemName } from './attributes.js';

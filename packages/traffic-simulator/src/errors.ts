/** The closed list of error codes this package throws. None is retryable: they all mean a wrong option. */
export type TrafficSimulatorErrorCode = 'SIM_INVALID_OPTION';

export class TrafficSimulatorError extends Error {
  override readonly name = 'TrafficSimulatorError';
  readonly retryable = false;

  constructor(
    readonly code: TrafficSimulatorErrorCode,
    message: string,
    readonly option: string,
  ) {
    super(message);
  }
}

export function invalidOption(option: string, message: string): TrafficSimulatorError {
  return new TrafficSimulatorError('SIM_INVALID_OPTION', `${option}: ${message}`, option);
}

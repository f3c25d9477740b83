/** One line that tells the user what to do; the CLI prints only the message. */
export class StackError extends Error {
  constructor(
    readonly code:
      | 'STACK_JAVA_MISSING'
      | 'STACK_JAVA_TOO_OLD'
      | 'STACK_MAVEN_MISSING'
      | 'STACK_DOWNLOAD_FAILED'
      | 'STACK_PORT_IN_USE'
      | 'STACK_START_FAILED'
      | 'STACK_STOP_FAILED'
      | 'STACK_POSTGRES_BINARIES_MISSING',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StackError';
  }
}

/**
 * An error meant for the person running lossgraph: its message is one line that
 * says what is wrong and where. The CLI prints it without a stack trace.
 */
export class LossgraphError extends Error {
  override name = 'LossgraphError';
}

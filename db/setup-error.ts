/** A problem the operator fixes, said in one line: printed without a stack. */
export class SetupError extends Error {
  override name = 'SetupError';
}

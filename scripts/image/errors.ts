/** A build step failed: the message says what, the details say what to do. Thrown, so temp dirs are removed on the way out. */
export class ImageBuildError extends Error {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImageBuildError';
    this.details = details;
  }
}

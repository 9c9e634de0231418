/**
 * An error meant for the person running lossgraph: its message is one line that
 * says what is wrong and where. The CLI prints it without a stack trace and
 * exits with code 2. `code` is stable, for programs that call the API: it says
 * what kind of input was wrong, the message says what exactly.
 */
export class LossgraphError extends Error {
  override name = 'LossgraphError';
  readonly code: string = 'LOSSGRAPH_INPUT';
}

/** A data set that cannot be read: a file, a name, a cell, a label. */
export class DataError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_DATA';
}

/** An artifact folder, manifest, checkpoint or output path that cannot be used. */
export class ArtifactError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_ARTIFACT';
}

/** A command-line option or configuration value out of range or malformed. */
export class ArgumentError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_ARGUMENT';
}

/** An execution provider that cannot run here (CUDA missing, out of GPU memory, a model ONNX Runtime rejects). */
export class ProviderError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_PROVIDER';
}

/** A graph built wrongly through the API: shapes, dtypes, an op without a gradient rule. */
export class GraphError extends LossgraphError {
  override readonly code = 'LOSSGRAPH_GRAPH';
}

/**
 * One field of a spec given to the API is out of range or malformed. The message
 * names the field as the API spells it (`classWeights: 2 class weights for 6
 * classes`); the CLI names its option instead (`--class-weights: ...`), so
 * neither reader meets the other's vocabulary.
 */
export class FieldError extends ArgumentError {
  constructor(readonly field: string, readonly detail: string) {
    super(`${field}${detail}`);
  }

  /** The message as the CLI says it: the field's option, e.g. `--class-weights`. */
  get asOption(): string {
    return `--${this.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${this.detail}`;
  }
}

/** Splits a stream of text chunks into lines, for a worker's standard error. */
export class LineSplitter {
  #partial = "";
  readonly #onLine: (line: string) => void;

  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  /** Calls `onLine` with each line that `text` completes, without its line feed. */
  push(text: string): void {
    let start = 0;
    let newline = text.indexOf("\n");
    if (newline === -1) {
      this.#partial += text;
      return;
    }
    let line = this.#partial + text.slice(0, newline);
    this.#partial = "";
    for (;;) {
      this.#onLine(line);
      start = newline + 1;
      newline = text.indexOf("\n", start);
      if (newline === -1) break;
      line = text.slice(start, newline);
    }
    this.#partial = text.slice(start);
  }

  /** Calls `onLine` with the last line when the text did not end with a line feed. */
  end(): void {
    if (this.#partial.length === 0) return;
    const line = this.#partial;
    this.#partial = "";
    this.#onLine(line);
  }
}

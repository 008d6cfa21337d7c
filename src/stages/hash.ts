// Owns hashing in the same pass as writing: a pass-through that computes the
// sha256 and counts the bytes of whatever flows through it.

import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

export class HashingPassThrough extends Transform {
  private readonly hash = createHash('sha256');
  byteCount = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.byteCount += chunk.length;
    callback(null, chunk);
  }

  /** Hex sha256 of everything that passed; call once, after the stream ended. */
  digestHex(): string {
    return this.hash.digest('hex');
  }
}

/** Counts bytes only (the raw size before compression; also feeds progress). */
export class ByteCounter extends Transform {
  byteCount = 0;
  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.byteCount += chunk.length;
    this.onProgress?.(this.byteCount);
    callback(null, chunk);
  }
}

// Packed layouts against independent bit-level specs written here (a bit stream per row for
// 2/4/8 bits, explicit bit planes for 3 bits), plus round trips at odd lengths.
import { describe, expect, it } from 'vitest';
import {
  PACK_BITS,
  nibbleShift,
  packF16Pairs,
  packNibblesHighFirst,
  packRows,
  packU8,
  packedBitsPerWeight,
  readCode,
  unpackF16Pairs,
  unpackNibblesHighFirst,
  unpackRows,
  unpackU8,
  wordsPerRow,
  type PackBits,
} from '../../src/core/quant/packing.ts';
import { seededRandom } from './helpers.ts';

const LENGTHS = [1, 7, 33, 172];

/** Spec of one packed row as a list of bits: bit i of word w is stream[32·w + i]. */
function specRowBits(codes: number[], bits: PackBits): number[] {
  const words = bits === 3 ? 3 * Math.ceil(codes.length / 32) : Math.ceil((codes.length * bits) / 32);
  const stream = new Array<number>(32 * words).fill(0);
  codes.forEach((q, j) => {
    if (bits === 3) {
      const base = 96 * Math.floor(j / 32); // 3 words per 32 values
      const k = j % 32;
      stream[base + 2 * k] = q & 1; // low two bits: 16 per word, in order (spans words 0 and 1)
      stream[base + 2 * k + 1] = (q >> 1) & 1;
      stream[base + 64 + k] = (q >> 2) & 1; // bit plane in the third word
    } else {
      for (let b = 0; b < bits; b++) stream[j * bits + b] = (q >> b) & 1; // LSB-first stream
    }
  });
  return stream;
}

const wordsToBits = (w: Uint32Array): number[] =>
  Array.from(w).flatMap((x) => Array.from({ length: 32 }, (_, i) => (x >>> i) & 1));

describe('uniform code packing', () => {
  it('words per row and bits per weight', () => {
    expect([8, 4, 3, 2].map((b) => wordsPerRow(b as PackBits, 172))).toEqual([43, 22, 18, 11]);
    expect([8, 4, 3, 2].map((b) => wordsPerRow(b as PackBits, 64))).toEqual([16, 8, 6, 4]);
    expect(packedBitsPerWeight(3, 64)).toBe(3);
    expect(packedBitsPerWeight(4, 172)).toBeCloseTo((22 * 32) / 172, 12);
  });

  it('known words: 8-bit little-endian bytes, 4-bit low nibble first, 2-bit, 3-bit planes', () => {
    expect(packRows(Uint8Array.from([1, 2, 3, 4]), 1, 4, 8)[0]).toBe(0x04030201);
    expect(packRows(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 1, 8, 4)[0]).toBe(0x87654321);
    expect(packRows(Uint8Array.from([1, 2, 3, 0, 3]), 1, 5, 2)[0]).toBe(0b11_00_11_10_01);
    const c3 = new Uint8Array(33);
    c3[0] = 7; // low bits 0b11 in word 0 bits 0..1, high bit in word 2 bit 0
    c3[17] = 5; // low bits 0b01 in word 1 bits 2..3, high bit in word 2 bit 17
    c3[32] = 6; // second block: low 0b10 in word 3 bits 0..1, high in word 5 bit 0
    const p = packRows(c3, 1, 33, 3);
    expect(Array.from(p)).toEqual([0b11, 0b01 << 2, (1 << 0) | (1 << 17), 0b10, 0, 1]);
  });

  for (const bits of PACK_BITS) {
    it(`${bits}-bit: matches the bit-level spec and round-trips at lengths ${LENGTHS}`, () => {
      const rand = seededRandom(100 + bits);
      for (const cols of LENGTHS) {
        for (const rows of [1, 3]) {
          const codes = Uint8Array.from({ length: rows * cols }, () => Math.floor(rand() * 2 ** bits));
          const packed = packRows(codes, rows, cols, bits);
          const wpr = wordsPerRow(bits, cols);
          expect(packed.length).toBe(rows * wpr);
          for (let r = 0; r < rows; r++) {
            const row = Array.from(codes.slice(r * cols, (r + 1) * cols));
            expect(wordsToBits(packed.slice(r * wpr, (r + 1) * wpr))).toEqual(specRowBits(row, bits));
            for (let j = 0; j < cols; j++) expect(readCode(packed, r * wpr, j, bits)).toBe(row[j]);
          }
          expect(unpackRows(packed, rows, cols, bits)).toEqual(codes);
        }
      }
    });
  }

  it('rejects codes that do not fit and unknown widths', () => {
    expect(() => packRows(Uint8Array.from([16]), 1, 1, 4)).toThrow(/does not fit 4 bits/);
    expect(() => packRows(Uint8Array.from([1]), 1, 1, 5)).toThrow(/5-bit/);
    expect(() => unpackRows(new Uint32Array(2), 1, 8, 4)).toThrow(/needs 1/);
  });
});

describe('byte, nibble and f16 streams', () => {
  it('packU8: byte i at bits 8·(i & 3), same memory as a Uint8Array on little-endian hosts', () => {
    for (const n of LENGTHS) {
      const v = Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 255);
      const p = packU8(v);
      expect(p.length).toBe(Math.ceil(n / 4));
      expect(new Uint8Array(p.buffer).slice(0, n)).toEqual(v);
      expect(unpackU8(p, n)).toEqual(v);
    }
    expect(() => packU8([256])).toThrow(/not a byte/);
  });

  it('bitsandbytes nibbles: first element in the high nibble of each byte', () => {
    const p = packNibblesHighFirst(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Array.from(new Uint8Array(p.buffer))).toEqual([0x12, 0x34, 0x56, 0x78]);
    expect(packNibblesHighFirst(Uint8Array.from([0xa]), 7)[0]).toBe(0xa7); // odd: pad the low nibble
    expect([0, 1, 2, 3, 7].map(nibbleShift)).toEqual([4, 0, 12, 8, 24]);
    const rand = seededRandom(9);
    for (const n of LENGTHS) {
      const codes = Uint8Array.from({ length: n }, () => Math.floor(rand() * 16));
      const bytes = new Uint8Array(packNibblesHighFirst(codes).buffer);
      for (let e = 0; e < n; e++) expect(e % 2 === 0 ? bytes[e >> 1] >> 4 : bytes[e >> 1] & 15).toBe(codes[e]);
      expect(unpackNibblesHighFirst(packNibblesHighFirst(codes), n)).toEqual(codes);
    }
  });

  it('f16 pairs: value 2i in the low half (WGSL pack2x16float), odd counts padded with +0', () => {
    expect(packF16Pairs([1, -2])[0]).toBe(0xc0003c00);
    expect(Array.from(packF16Pairs([65504, 2 ** -24, 0.5]))).toEqual([0x00017bff, 0x00003800]);
    for (const n of LENGTHS) {
      const rand = seededRandom(n);
      const v = Float32Array.from({ length: n }, () => Math.fround((rand() - 0.5) * 100));
      const back = unpackF16Pairs(packF16Pairs(v), n);
      for (let i = 0; i < n; i++) expect(Math.abs(back[i] - v[i])).toBeLessThanOrEqual(Math.abs(v[i]) * 2 ** -11);
      expect(unpackF16Pairs(packF16Pairs(back), n)).toEqual(back); // f16 values are fixed points
    }
  });
});

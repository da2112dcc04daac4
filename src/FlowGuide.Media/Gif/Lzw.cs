namespace FlowGuide.Media;

/// <summary>
/// GIF's variable-length LZW (codes of minCodeSize+1 up to 12 bits, LSB-first, a clear code first and whenever the
/// 4096-entry table fills, an end code last), encoder and decoder.
/// </summary>
internal static class Lzw
{
    /// <summary>Compresses palette indices (each &lt; 2^minCodeSize) into the packed code stream (without sub-block framing).</summary>
    public static byte[] Encode(ReadOnlySpan<byte> indices, int minCodeSize)
    {
        int clear = 1 << minCodeSize, eoi = clear + 1;
        var table = new int[4096 * 256]; // (prefix << 8 | k) -> code + 1, 0 = absent
        var used = new List<int>(4096);
        var w = new BitWriter();
        int next = eoi + 1, codeSize = minCodeSize + 1;
        w.Write(clear, codeSize);
        if (indices.Length == 0) { w.Write(eoi, codeSize); return w.ToArray(); }
        int prefix = indices[0];
        for (int i = 1; i < indices.Length; i++)
        {
            int k = indices[i];
            int key = prefix << 8 | k;
            int code = table[key];
            if (code != 0) { prefix = code - 1; continue; }
            while (next > 1 << codeSize && codeSize < 12) codeSize++;
            w.Write(prefix, codeSize);
            if (next < 4096)
            {
                table[key] = next + 1;
                used.Add(key);
                next++;
            }
            else
            {
                w.Write(clear, codeSize);
                foreach (int u in used) table[u] = 0;
                used.Clear();
                next = eoi + 1;
                codeSize = minCodeSize + 1;
            }
            prefix = k;
        }
        while (next > 1 << codeSize && codeSize < 12) codeSize++;
        w.Write(prefix, codeSize);
        // The decoder adds an entry for the last code before reading EOI, so the EOI may need one more bit.
        if (next < 4096) next++;
        while (next > 1 << codeSize && codeSize < 12) codeSize++;
        w.Write(eoi, codeSize);
        return w.ToArray();
    }

    /// <summary>
    /// Decompresses into <paramref name="output"/> (exactly its length is wanted); returns how many indices were produced.
    /// Throws InvalidDataException on an invalid code.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> data, int minCodeSize, Span<byte> output)
    {
        if (minCodeSize < 2 || minCodeSize > 11) throw new InvalidDataException($"LZW minimum code size {minCodeSize}; expected 2 to 11.");
        int clear = 1 << minCodeSize, eoi = clear + 1;
        var prefix = new short[4096];
        var suffix = new byte[4096];
        var first = new byte[4096];
        var stack = new byte[4097];
        for (int i = 0; i < clear; i++) { suffix[i] = (byte)i; first[i] = (byte)i; prefix[i] = -1; }
        int codeSize = minCodeSize + 1, avail = eoi + 1, old = -1, outPos = 0;
        long bitPos = 0, totalBits = (long)data.Length * 8;
        while (outPos < output.Length)
        {
            if (bitPos + codeSize > totalBits) break;
            int code = 0;
            for (int b = 0; b < codeSize; b++, bitPos++)
                code |= ((data[(int)(bitPos >> 3)] >> (int)(bitPos & 7)) & 1) << b;
            if (code == clear) { codeSize = minCodeSize + 1; avail = eoi + 1; old = -1; continue; }
            if (code == eoi) break;
            if (old == -1)
            {
                if (code >= clear) throw new InvalidDataException($"LZW code {code} after a clear code.");
                output[outPos++] = (byte)code;
                old = code;
                continue;
            }
            int cur = code, sp = 0;
            byte firstByte;
            if (code < avail) firstByte = first[code];
            else if (code == avail) { firstByte = first[old]; stack[sp++] = firstByte; cur = old; }
            else throw new InvalidDataException($"LZW code {code} beyond the table ({avail} entries).");
            while (cur >= clear) { stack[sp++] = suffix[cur]; cur = prefix[cur]; }
            stack[sp++] = (byte)cur;
            while (sp > 0 && outPos < output.Length) output[outPos++] = stack[--sp];
            if (avail < 4096)
            {
                prefix[avail] = (short)old;
                suffix[avail] = firstByte;
                first[avail] = first[old];
                avail++;
                if (avail == 1 << codeSize && codeSize < 12) codeSize++;
            }
            old = code;
        }
        return outPos;
    }

    private sealed class BitWriter
    {
        private readonly List<byte> _bytes = new();
        private int _acc, _bits;

        public void Write(int code, int size)
        {
            _acc |= code << _bits;
            _bits += size;
            while (_bits >= 8) { _bytes.Add((byte)_acc); _acc >>= 8; _bits -= 8; }
        }

        public byte[] ToArray()
        {
            if (_bits > 0) { _bytes.Add((byte)_acc); _acc = 0; _bits = 0; }
            return _bytes.ToArray();
        }
    }
}

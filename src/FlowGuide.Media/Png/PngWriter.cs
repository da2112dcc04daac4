using System.Buffers.Binary;
using System.IO.Compression;

namespace FlowGuide.Media;

/// <summary>
/// PNG encoder for gray, gray+alpha, RGB and RGBA images at 8 or 16 bits, non-interlaced. Each row gets the filter
/// (of the five) with the smallest sum of absolute signed residuals — the usual heuristic — and the stream is
/// zlib-compressed at <see cref="CompressionLevel.Optimal"/> unless told otherwise.
/// </summary>
public static class PngWriter
{
    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> atomically (temp file, then rename).</summary>
    public static void Write(string path, PngImage image, CompressionLevel level = CompressionLevel.Optimal)
    {
        var bytes = Encode(image, level);
        AtomicFile.Write(path, s => s.Write(bytes), "PNG");
    }

    /// <summary>Writes interleaved 8-bit RGB (width*height*3 bytes) as an RGB PNG.</summary>
    public static void WriteRgb8(string path, int width, int height, byte[] rgb) => Write(path, PngImage.FromRgb8(width, height, rgb));

    /// <summary>Encodes <paramref name="image"/> into a complete PNG file in memory.</summary>
    public static byte[] Encode(PngImage image, CompressionLevel level = CompressionLevel.Optimal)
    {
        int w = image.Width, h = image.Height, ch = image.Channels, depth = image.BitDepth;
        int bpp = ch * depth / 8, rowBytes = w * bpp;
        var ms = new MemoryStream();
        ms.Write(PngReader.Signature);

        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], h);
        ihdr[8] = (byte)depth;
        ihdr[9] = (byte)image.ColorType;
        ihdr[10] = ihdr[11] = ihdr[12] = 0;
        WriteChunk(ms, "IHDR", ihdr);

        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, level, leaveOpen: true))
        {
            var prev = new byte[rowBytes];
            var cur = new byte[rowBytes];
            var best = new byte[rowBytes + 1];
            var trial = new byte[rowBytes + 1];
            for (int y = 0; y < h; y++)
            {
                FillRow(image, y, cur);
                long bestScore = long.MaxValue;
                for (int f = 0; f < 5; f++)
                {
                    long score = Filter(f, cur, prev, bpp, trial);
                    if (score < bestScore) { bestScore = score; (best, trial) = (trial, best); }
                }
                z.Write(best);
                (prev, cur) = (cur, prev);
            }
        }
        WriteChunk(ms, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(ms, "IEND", ReadOnlySpan<byte>.Empty);
        return ms.ToArray();
    }

    private static void FillRow(PngImage image, int y, Span<byte> row)
    {
        int n = image.Width * image.Channels;
        if (image.Samples8 is { } s8) s8.AsSpan(y * n, n).CopyTo(row);
        else
        {
            var s16 = image.Samples16!.AsSpan(y * n, n);
            for (int i = 0; i < n; i++) BinaryPrimitives.WriteUInt16BigEndian(row[(2 * i)..], s16[i]);
        }
    }

    /// <summary>Filters one row with filter type f into dst (dst[0] = f); returns the sum of |signed residual|.</summary>
    private static long Filter(int f, ReadOnlySpan<byte> cur, ReadOnlySpan<byte> prev, int bpp, Span<byte> dst)
    {
        dst[0] = (byte)f;
        long score = 0;
        for (int i = 0; i < cur.Length; i++)
        {
            byte a = i >= bpp ? cur[i - bpp] : (byte)0, b = prev[i], c = i >= bpp ? prev[i - bpp] : (byte)0;
            byte r = f switch
            {
                0 => cur[i],
                1 => (byte)(cur[i] - a),
                2 => (byte)(cur[i] - b),
                3 => (byte)(cur[i] - ((a + b) >> 1)),
                _ => (byte)(cur[i] - PngReader.Paeth(a, b, c)),
            };
            dst[i + 1] = r;
            score += Math.Abs((int)(sbyte)r);
        }
        return score;
    }

    private static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> body)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, body.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(body);
        uint crc = Crc32.Update(Crc32.Compute(head[4..]), body);
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}

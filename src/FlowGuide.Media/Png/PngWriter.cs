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
        var o = dst[1..];
        int n = cur.Length;
        switch (f)
        {
            case 0: cur.CopyTo(o); break;
            case 1:
                for (int i = 0; i < n; i++) o[i] = (byte)(cur[i] - (i >= bpp ? cur[i - bpp] : 0));
                break;
            case 2:
                for (int i = 0; i < n; i++) o[i] = (byte)(cur[i] - prev[i]);
                break;
            case 3:
                for (int i = 0; i < n; i++) o[i] = (byte)(cur[i] - (((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1));
                break;
            default:
                for (int i = 0; i < bpp && i < n; i++) o[i] = (byte)(cur[i] - prev[i]);
                for (int i = bpp; i < n; i++) o[i] = (byte)(cur[i] - PngReader.Paeth(cur[i - bpp], prev[i], prev[i - bpp]));
                break;
        }
        long score = 0;
        foreach (byte r in o) score += r < 128 ? r : 256 - r;
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

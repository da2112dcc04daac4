using System.Buffers.Binary;
using System.IO.Compression;

namespace FlowGuide.Media;

/// <summary>
/// PNG decoder: all colour types (gray, gray+alpha, RGB, RGBA, palette) at every legal bit depth (1/2/4/8/16),
/// all five row filters, non-interlaced and Adam7-interlaced images. Every chunk's CRC is checked; unknown critical
/// chunks are rejected, unknown ancillary chunks skipped. A tRNS chunk is honoured for palette images (which become
/// RGBA); for gray and RGB images it is ignored. Gamma, colour profiles and text are ignored.
/// </summary>
public static class PngReader
{
    internal static readonly byte[] Signature = { 137, 80, 78, 71, 13, 10, 26, 10 };

    /// <summary>Reads and decodes the PNG file at <paramref name="path"/>.</summary>
    public static PngImage Read(string path) => Decode(AtomicFile.ReadAll(path, "PNG"), path);

    /// <summary>True when <paramref name="data"/> starts with the PNG signature.</summary>
    public static bool HasSignature(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    /// <summary>Decodes an in-memory PNG; <paramref name="name"/> names it in error messages.</summary>
    public static PngImage Decode(byte[] data, string name = "<memory>")
    {
        MediaException Bad(string why) => new($"PNG '{name}': {why}", name);
        if (!HasSignature(data)) throw Bad("not a PNG file (wrong signature; expected \\x89PNG\\r\\n\\x1a\\n).");

        int pos = 8;
        int width = 0, height = 0, bitDepth = 0, interlace = 0;
        PngColorType colorType = 0;
        bool haveHeader = false, haveEnd = false;
        byte[]? palette = null, paletteAlpha = null;
        var idat = new MemoryStream();
        while (pos < data.Length)
        {
            if (data.Length - pos < 12) throw Bad($"truncated chunk header at byte {pos}.");
            uint len = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            if (len > int.MaxValue || data.Length - pos - 12 < len)
                throw Bad($"truncated {type} chunk at byte {pos} (needs {len} bytes, file has {data.Length - pos - 12}).");
            var body = data.AsSpan(pos + 8, (int)len);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos + 8 + (int)len));
            uint actual = Crc32.Compute(data.AsSpan(pos + 4, (int)len + 4));
            if (stored != actual) throw Bad($"bad CRC in {type} chunk at byte {pos} (stored {stored:x8}, computed {actual:x8}).");
            pos += 12 + (int)len;

            if (!haveHeader && type != "IHDR") throw Bad($"first chunk is {type}; expected IHDR.");
            switch (type)
            {
                case "IHDR":
                    if (len != 13) throw Bad($"IHDR has {len} bytes; expected 13.");
                    width = BinaryPrimitives.ReadInt32BigEndian(body);
                    height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                    bitDepth = body[8];
                    colorType = (PngColorType)body[9];
                    interlace = body[12];
                    if (width <= 0 || height <= 0) throw Bad($"invalid size {width}x{height}.");
                    if ((long)width * height > 1L << 28) throw Bad($"size {width}x{height} is too large.");
                    if (body[10] != 0 || body[11] != 0) throw Bad("unknown compression or filter method.");
                    if (interlace > 1) throw Bad($"unknown interlace method {interlace}.");
                    if (!ValidDepth(colorType, bitDepth)) throw Bad($"invalid bit depth {bitDepth} for colour type {(int)colorType}.");
                    haveHeader = true;
                    break;
                case "PLTE":
                    if (len % 3 != 0 || len == 0 || len > 768) throw Bad($"PLTE has {len} bytes; expected a multiple of 3 up to 768.");
                    palette = body.ToArray();
                    break;
                case "tRNS":
                    if (colorType == PngColorType.Palette) paletteAlpha = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    haveEnd = true;
                    break;
                default:
                    if (char.IsUpper(type[0])) throw Bad($"unknown critical chunk {type}.");
                    break;
            }
            if (haveEnd) break;
        }
        if (!haveHeader) throw Bad("no IHDR chunk.");
        if (!haveEnd) throw Bad("truncated: no IEND chunk.");
        if (idat.Length == 0) throw Bad("no IDAT chunk (no image data).");
        if (colorType == PngColorType.Palette && palette is null) throw Bad("palette image without a PLTE chunk.");

        int rawChannels = colorType switch
        {
            PngColorType.Gray => 1, PngColorType.GrayAlpha => 2, PngColorType.Rgb => 3, PngColorType.Rgba => 4, _ => 1,
        };
        var passes = interlace == 1 ? Adam7 : Single;
        long expected = 0;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            long pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
            if (pw > 0 && ph > 0) expected += ph * (1 + (pw * rawChannels * bitDepth + 7) / 8);
        }
        var raw = new byte[expected];
        try
        {
            idat.Position = 0;
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            int got = 0;
            while (got < raw.Length)
            {
                int n = z.Read(raw, got, raw.Length - got);
                if (n == 0) break;
                got += n;
            }
            if (got < raw.Length) throw Bad($"truncated image data ({got} of {raw.Length} bytes after decompression).");
        }
        catch (InvalidDataException e)
        {
            throw new MediaException($"PNG '{name}': corrupt compressed image data ({e.Message}).", name, e);
        }

        bool pal = colorType == PngColorType.Palette;
        int outChannels = pal ? (paletteAlpha is null ? 3 : 4) : rawChannels;
        int n8 = width * height * outChannels;
        byte[]? out8 = bitDepth == 16 ? null : new byte[n8];
        ushort[]? out16 = bitDepth == 16 ? new ushort[n8] : null;
        int bpp = Math.Max(1, rawChannels * bitDepth / 8);
        int offset = 0;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            int pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
            if (pw <= 0 || ph <= 0) continue;
            int rowBytes = (pw * rawChannels * bitDepth + 7) / 8;
            var prev = new byte[rowBytes];
            var cur = new byte[rowBytes];
            for (int r = 0; r < ph; r++)
            {
                byte filter = raw[offset];
                raw.AsSpan(offset + 1, rowBytes).CopyTo(cur);
                offset += 1 + rowBytes;
                if (filter > 4) throw Bad($"unknown filter type {filter} in row {r}.");
                Unfilter(filter, cur, prev, bpp);
                int y = y0 + r * dy;
                for (int i = 0; i < pw; i++)
                {
                    int dst = ((y * width) + x0 + i * dx) * outChannels;
                    if (bitDepth == 16)
                    {
                        for (int c = 0; c < rawChannels; c++)
                            out16![dst + c] = (ushort)(cur[(i * rawChannels + c) * 2] << 8 | cur[(i * rawChannels + c) * 2 + 1]);
                    }
                    else if (bitDepth == 8 && !pal)
                    {
                        for (int c = 0; c < rawChannels; c++) out8![dst + c] = cur[i * rawChannels + c];
                    }
                    else
                    {
                        int v = bitDepth == 8 ? cur[i] : cur[i * bitDepth >> 3] >> (8 - bitDepth - (i * bitDepth & 7)) & ((1 << bitDepth) - 1);
                        if (pal)
                        {
                            if (v * 3 >= palette!.Length) throw Bad($"palette index {v} outside a palette of {palette.Length / 3} colours.");
                            out8![dst] = palette[v * 3];
                            out8[dst + 1] = palette[v * 3 + 1];
                            out8[dst + 2] = palette[v * 3 + 2];
                            if (outChannels == 4) out8[dst + 3] = v < paletteAlpha!.Length ? paletteAlpha[v] : (byte)255;
                        }
                        else out8![dst] = (byte)(v * 255 / ((1 << bitDepth) - 1));
                    }
                }
                (prev, cur) = (cur, prev);
            }
        }
        return out16 is not null
            ? new PngImage(width, height, outChannels, out16) { SourceColorType = colorType, SourceBitDepth = bitDepth }
            : new PngImage(width, height, outChannels, out8!) { SourceColorType = colorType, SourceBitDepth = bitDepth };
    }

    private static readonly (int X0, int Y0, int Dx, int Dy)[] Single = { (0, 0, 1, 1) };
    private static readonly (int X0, int Y0, int Dx, int Dy)[] Adam7 =
        { (0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2) };

    private static bool ValidDepth(PngColorType t, int d) => t switch
    {
        PngColorType.Gray => d is 1 or 2 or 4 or 8 or 16,
        PngColorType.Palette => d is 1 or 2 or 4 or 8,
        PngColorType.Rgb or PngColorType.GrayAlpha or PngColorType.Rgba => d is 8 or 16,
        _ => false,
    };

    /// <summary>Reverses one row filter in place; <paramref name="prev"/> is the previous unfiltered row (zeros for the first).</summary>
    internal static void Unfilter(int filter, Span<byte> cur, ReadOnlySpan<byte> prev, int bpp)
    {
        int n = cur.Length;
        switch (filter)
        {
            case 0: break;
            case 1: for (int i = bpp; i < n; i++) cur[i] += cur[i - bpp]; break;
            case 2: for (int i = 0; i < n; i++) cur[i] += prev[i]; break;
            case 3:
                for (int i = 0; i < n; i++) cur[i] += (byte)(((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < n; i++)
                    cur[i] += Paeth(i >= bpp ? cur[i - bpp] : (byte)0, prev[i], i >= bpp ? prev[i - bpp] : (byte)0);
                break;
        }
    }

    internal static byte Paeth(byte a, byte b, byte c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}

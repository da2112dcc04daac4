using System.Text;

namespace FlowGuide.Media;

/// <summary>
/// Binary Netpbm images: P6 (RGB) and P5 (gray), maxval up to 65535 (two bytes per sample, big-endian, above 255).
/// Maxvals other than 255 and 65535 are rescaled to 8 bits (maxval &lt; 256) or 16 bits. ASCII variants (P2/P3) and
/// bitmaps (P1/P4) are rejected. Results use <see cref="PngImage"/> as the raster type.
/// </summary>
public static class Pnm
{
    public static PngImage Read(string path) => Decode(AtomicFile.ReadAll(path, "PPM/PGM"), path);

    public static PngImage Decode(byte[] data, string name = "<memory>")
    {
        MediaException Bad(string why) => new($"PPM/PGM '{name}': {why}", name);
        if (data.Length < 2 || data[0] != 'P' || (data[1] != '5' && data[1] != '6'))
            throw Bad(data.Length >= 2 && data[0] == 'P' && data[1] is (byte)'1' or (byte)'2' or (byte)'3' or (byte)'4'
                ? $"P{(char)data[1]} (ASCII or bitmap) is not supported; expected binary P5 or P6."
                : "wrong magic; expected P5 or P6.");
        int channels = data[1] == '6' ? 3 : 1;
        int pos = 2;
        int Next()
        {
            while (true)
            {
                while (pos < data.Length && data[pos] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\f' or (byte)'\v') pos++;
                if (pos < data.Length && data[pos] == '#') { while (pos < data.Length && data[pos] != '\n') pos++; continue; }
                break;
            }
            if (pos >= data.Length) throw Bad("truncated header.");
            long v = 0;
            int start = pos;
            while (pos < data.Length && data[pos] >= '0' && data[pos] <= '9' && v < int.MaxValue) v = v * 10 + (data[pos++] - '0');
            if (pos == start || v > int.MaxValue) throw Bad($"bad header number at byte {start}.");
            return (int)v;
        }
        int w = Next(), h = Next(), max = Next();
        if (w < 1 || h < 1 || (long)w * h > 1L << 28) throw Bad($"invalid size {w}x{h}.");
        if (max < 1 || max > 65535) throw Bad($"maxval {max}; expected 1 to 65535.");
        if (pos >= data.Length) throw Bad("truncated: no pixel data.");
        pos++; // the single whitespace after maxval
        int bytesPer = max > 255 ? 2 : 1;
        long need = (long)w * h * channels * bytesPer;
        if (data.Length - pos < need) throw Bad($"truncated pixel data ({data.Length - pos} of {need} bytes).");
        int n = w * h * channels;
        if (bytesPer == 1)
        {
            var s = data.AsSpan(pos, n).ToArray();
            if (max != 255) for (int i = 0; i < n; i++) s[i] = (byte)Math.Min(255, (s[i] * 255 + max / 2) / max);
            return new PngImage(w, h, channels, s);
        }
        var s16 = new ushort[n];
        for (int i = 0; i < n; i++)
        {
            int v = data[pos + 2 * i] << 8 | data[pos + 2 * i + 1];
            s16[i] = (ushort)(max == 65535 ? v : Math.Min(65535, ((long)v * 65535 + max / 2) / max));
        }
        return new PngImage(w, h, channels, s16);
    }

    /// <summary>Writes a 1-channel image as P5 or a 3-channel one as P6 (maxval 255 or 65535 by bit depth), atomically.</summary>
    public static void Write(string path, PngImage image)
    {
        if (image.Channels is not (1 or 3))
            throw new ArgumentException($"Pnm.Write: {image.Channels} channels; PPM/PGM hold 1 (gray) or 3 (RGB).");
        AtomicFile.Write(path, s => s.Write(Encode(image)), "PPM/PGM");
    }

    public static byte[] Encode(PngImage image)
    {
        var header = Encoding.ASCII.GetBytes($"P{(image.Channels == 3 ? 6 : 5)}\n{image.Width} {image.Height}\n{(image.BitDepth == 16 ? 65535 : 255)}\n");
        int n = image.Width * image.Height * image.Channels;
        var outp = new byte[header.Length + n * (image.BitDepth / 8)];
        header.CopyTo(outp, 0);
        if (image.Samples8 is { } s8) s8.CopyTo(outp, header.Length);
        else
            for (int i = 0; i < n; i++)
            {
                outp[header.Length + 2 * i] = (byte)(image.Samples16![i] >> 8);
                outp[header.Length + 2 * i + 1] = (byte)image.Samples16[i];
            }
        return outp;
    }
}

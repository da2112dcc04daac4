namespace FlowGuide.Media;

/// <summary>
/// Animated GIF89a writer, natively: one global palette for the whole clip (see <see cref="Palette"/> for how it is
/// chosen and how pixels are dithered), full frames, looping forever (NETSCAPE2.0 extension). GIF delays are whole
/// centiseconds, so each frame's delay is the rounded difference of cumulative times, which keeps the overall timing
/// exact (30 fps becomes 3, 3, 4, 3, 3, 4, ... cs); delays below 2 cs are raised to 2 because browsers slow such
/// frames down to 10 cs.
/// </summary>
public static class GifWriter
{
    public static void Write(string path, RgbVideo video)
    {
        if (video.Width > 65535 || video.Height > 65535)
            throw new ArgumentException($"GifWriter: size {video.Width}x{video.Height} exceeds GIF's 65535 limit.");
        var palette = Palette.Build(video.Frames);
        AtomicFile.Write(path, s => Encode(s, video, palette), "GIF");
    }

    private static void Encode(Stream s, RgbVideo video, Palette palette)
    {
        int w = video.Width, h = video.Height;
        int bits = 1;
        while ((1 << bits) < palette.Count) bits++;
        int tableSize = 1 << bits;
        s.Write("GIF89a"u8);
        WriteU16(s, w); WriteU16(s, h);
        s.WriteByte((byte)(0x80 | 0x70 | (bits - 1))); // global colour table, 8-bit colour resolution
        s.WriteByte(0); s.WriteByte(0);                 // background index, aspect
        var table = new byte[tableSize * 3];
        palette.Colors.CopyTo(table, 0);
        s.Write(table);
        // Loop forever.
        s.Write(new byte[] { 0x21, 0xFF, 0x0B });
        s.Write("NETSCAPE2.0"u8);
        s.Write(new byte[] { 0x03, 0x01, 0x00, 0x00, 0x00 });

        int minCode = Math.Max(2, bits);
        double fps = video.Fps;
        for (int k = 0; k < video.FrameCount; k++)
        {
            int delay = (int)Math.Round(100.0 * (k + 1) / fps) - (int)Math.Round(100.0 * k / fps);
            delay = Math.Clamp(delay, 2, 65535);
            // Graphic control: disposal 1 (leave in place), no transparency.
            s.Write(new byte[] { 0x21, 0xF9, 0x04, 0x04, (byte)delay, (byte)(delay >> 8), 0x00, 0x00 });
            s.WriteByte(0x2C);
            WriteU16(s, 0); WriteU16(s, 0); WriteU16(s, w); WriteU16(s, h);
            s.WriteByte(0);
            s.WriteByte((byte)minCode);
            var codes = Lzw.Encode(palette.Map(video.Frames[k], w, h), minCode);
            for (int i = 0; i < codes.Length; i += 255)
            {
                int n = Math.Min(255, codes.Length - i);
                s.WriteByte((byte)n);
                s.Write(codes, i, n);
            }
            s.WriteByte(0);
        }
        s.WriteByte(0x3B);
    }

    private static void WriteU16(Stream s, int v) { s.WriteByte((byte)v); s.WriteByte((byte)(v >> 8)); }
}

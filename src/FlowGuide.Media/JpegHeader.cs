namespace FlowGuide.Media;

/// <summary>
/// Reads a JPEG's size from its start-of-frame marker without decoding it, so that a folder of JPEGs can be
/// size-checked natively and then decoded by one ffmpeg process (starting ffmpeg costs about 0.3 s per call).
/// </summary>
internal static class JpegHeader
{
    public static bool IsJpeg(ReadOnlySpan<byte> head) => head.Length >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF;

    /// <summary>(width, height) from the first SOFn marker, or null when the header is malformed or has none.</summary>
    public static (int Width, int Height)? TryReadSize(string path)
    {
        using var fs = File.OpenRead(path);
        var buf = new byte[Math.Min(fs.Length, 1 << 20)];
        int n = fs.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
        int pos = 2;
        while (pos + 4 <= n)
        {
            if (buf[pos] != 0xFF) return null;
            byte marker = buf[pos + 1];
            if (marker == 0xFF) { pos++; continue; }                   // fill byte
            if (marker is 0x01 or (>= 0xD0 and <= 0xD8)) { pos += 2; continue; } // no length
            if (marker == 0xD9 || marker == 0xDA) return null;          // end of image / start of scan before any SOF
            int len = buf[pos + 2] << 8 | buf[pos + 3];
            if (len < 2) return null;
            bool sof = marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC);
            if (sof)
            {
                if (pos + 9 > n) return null;
                int h = buf[pos + 5] << 8 | buf[pos + 6], w = buf[pos + 7] << 8 | buf[pos + 8];
                return w > 0 && h > 0 ? (w, h) : null;
            }
            pos += 2 + len;
        }
        return null;
    }
}

namespace FlowGuide.Media;

/// <summary>
/// GIF87a/89a reader: composes every image onto the logical screen (global and local palettes, interlaced images,
/// transparency, disposal methods 0-3) and returns one RGB frame per image. The canvas starts as the background
/// colour of the global palette (black without one), so transparent areas show it. The frame rate is 100 / mean
/// delay in centiseconds (delays of 0 or 1 count as 10, as browsers play them).
/// </summary>
public static class GifReader
{
    public static RgbVideo Read(string path) => Decode(AtomicFile.ReadAll(path, "GIF"), path);

    public static RgbVideo Decode(byte[] d, string name = "<memory>")
    {
        MediaException Bad(string why) => new($"GIF '{name}': {why}", name);
        if (d.Length < 13 || d[0] != 'G' || d[1] != 'I' || d[2] != 'F' || d[3] != '8' || (d[4] != '7' && d[4] != '9') || d[5] != 'a')
            throw Bad("wrong magic; expected GIF87a or GIF89a.");
        int pos = 6;
        int W = U16(d, 6), H = U16(d, 8), flags = d[10], bg = d[11];
        pos = 13;
        if (W == 0 || H == 0) throw Bad($"invalid screen size {W}x{H}.");
        byte[]? global = null;
        if ((flags & 0x80) != 0)
        {
            int n = 3 << ((flags & 7) + 1);
            if (d.Length - pos < n) throw Bad("truncated global colour table.");
            global = d.AsSpan(pos, n).ToArray();
            pos += n;
        }
        var canvas = new byte[W * H * 3];
        if (global is not null && bg * 3 + 2 < global.Length)
            for (int p = 0; p < W * H; p++) { canvas[3 * p] = global[bg * 3]; canvas[3 * p + 1] = global[bg * 3 + 1]; canvas[3 * p + 2] = global[bg * 3 + 2]; }
        var background = (byte[])canvas.Clone();
        var frames = new List<byte[]>();
        long totalDelay = 0;
        int delay = 0, disposal = 0, transparent = -1;
        while (true)
        {
            if (pos >= d.Length) throw Bad(frames.Count == 0 ? "truncated: no image." : "truncated: no trailer (0x3B).");
            byte block = d[pos++];
            if (block == 0x3B) break;
            if (block == 0x21)
            {
                if (pos >= d.Length) throw Bad("truncated extension.");
                byte label = d[pos++];
                if (label == 0xF9 && pos + 5 < d.Length && d[pos] == 4)
                {
                    disposal = (d[pos + 1] >> 2) & 7;
                    delay = U16(d, pos + 2);
                    transparent = (d[pos + 1] & 1) != 0 ? d[pos + 4] : -1;
                }
                pos = SkipSubBlocks(d, pos, Bad);
                continue;
            }
            if (block != 0x2C) throw Bad($"unknown block 0x{block:x2} at byte {pos - 1}.");
            if (d.Length - pos < 9) throw Bad("truncated image descriptor.");
            int left = U16(d, pos), top = U16(d, pos + 2), w = U16(d, pos + 4), h = U16(d, pos + 6), iflags = d[pos + 8];
            pos += 9;
            byte[]? palette = global;
            if ((iflags & 0x80) != 0)
            {
                int n = 3 << ((iflags & 7) + 1);
                if (d.Length - pos < n) throw Bad("truncated local colour table.");
                palette = d.AsSpan(pos, n).ToArray();
                pos += n;
            }
            if (palette is null) throw Bad($"image {frames.Count} has no colour table.");
            if (pos >= d.Length) throw Bad("truncated image data.");
            int minCode = d[pos++];
            var lzw = new MemoryStream();
            int end = CollectSubBlocks(d, pos, lzw, Bad);
            pos = end;
            var indices = new byte[w * h];
            try { Lzw.Decode(lzw.GetBuffer().AsSpan(0, (int)lzw.Length), minCode, indices); }
            catch (InvalidDataException e) { throw new MediaException($"GIF '{name}': corrupt image {frames.Count} ({e.Message}).", name, e); }
            // A short stream leaves the rest of the image as index 0, as browsers do.

            var before = disposal == 3 ? (byte[])canvas.Clone() : null;
            bool interlaced = (iflags & 0x40) != 0;
            for (int r = 0; r < h; r++)
            {
                int y = top + (interlaced ? InterlacedRow(r, h) : r);
                if (y >= H) continue;
                for (int x = 0; x < w; x++)
                {
                    int cx = left + x;
                    if (cx >= W) continue;
                    int ci = indices[r * w + x];
                    if (ci == transparent || ci * 3 + 2 >= palette.Length) continue;
                    int o = (y * W + cx) * 3;
                    canvas[o] = palette[ci * 3]; canvas[o + 1] = palette[ci * 3 + 1]; canvas[o + 2] = palette[ci * 3 + 2];
                }
            }
            frames.Add((byte[])canvas.Clone());
            totalDelay += delay < 2 ? 10 : delay;
            if (disposal == 2)
                for (int y = top; y < Math.Min(H, top + h); y++)
                    Array.Copy(background, (y * W + left) * 3, canvas, (y * W + left) * 3, Math.Max(0, Math.Min(w, W - left)) * 3);
            else if (disposal == 3) canvas = before!;
            delay = 0; disposal = 0; transparent = -1;
        }
        if (frames.Count == 0) throw Bad("no images.");
        return new RgbVideo(W, H, 100.0 * frames.Count / totalDelay, frames);
    }

    private static int InterlacedRow(int r, int h)
    {
        int n1 = (h + 7) / 8, n2 = (h + 3) / 8, n3 = (h + 1) / 4;
        if (r < n1) return r * 8;
        r -= n1;
        if (r < n2) return r * 8 + 4;
        r -= n2;
        if (r < n3) return r * 4 + 2;
        return (r - n3) * 2 + 1;
    }

    private static int SkipSubBlocks(byte[] d, int pos, Func<string, MediaException> bad)
    {
        while (true)
        {
            if (pos >= d.Length) throw bad("truncated sub-blocks.");
            int n = d[pos++];
            if (n == 0) return pos;
            pos += n;
        }
    }

    private static int CollectSubBlocks(byte[] d, int pos, MemoryStream into, Func<string, MediaException> bad)
    {
        while (true)
        {
            if (pos >= d.Length) throw bad("truncated image data.");
            int n = d[pos++];
            if (n == 0) return pos;
            if (d.Length - pos < n) throw bad("truncated image data.");
            into.Write(d, pos, n);
            pos += n;
        }
    }

    private static int U16(byte[] d, int i) => d[i] | d[i + 1] << 8;
}

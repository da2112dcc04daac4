namespace FlowGuide.Media;

/// <summary>
/// A global palette for a whole animation, and the mapping of RGB pixels onto it.
/// When the video has at most 256 distinct colours (flat synthetic content), the palette is exactly those colours and
/// pixels map without error or dithering. Otherwise the palette comes from median cut over a 5-bit-per-channel
/// histogram of all frames (boxes split along their longest axis at the pixel-weighted median; each colour is the mean
/// of its box's pixels), and pixels are mapped with 8x8 ordered (Bayer) dithering whose amplitude is the palette's
/// median nearest-neighbour spacing. One palette and position-fixed dithering keep static regions from flickering
/// between frames, which error diffusion or per-frame palettes would cause.
/// </summary>
internal sealed class Palette
{
    public byte[] Colors { get; }   // 3 bytes per entry
    public int Count => Colors.Length / 3;
    private readonly Dictionary<int, byte>? _exact;
    private readonly float _amplitude;
    private readonly short[] _cache = new short[1 << 18]; // 6 bits per channel -> index + 1

    private static readonly int[] Bayer8 =
    {
        0, 32, 8, 40, 2, 34, 10, 42, 48, 16, 56, 24, 50, 18, 58, 26, 12, 44, 4, 36, 14, 46, 6, 38, 60, 28, 52, 20, 62, 30, 54, 22,
        3, 35, 11, 43, 1, 33, 9, 41, 51, 19, 59, 27, 49, 17, 57, 25, 15, 47, 7, 39, 13, 45, 5, 37, 63, 31, 55, 23, 61, 29, 53, 21,
    };

    private Palette(byte[] colors, Dictionary<int, byte>? exact, float amplitude)
    {
        Colors = colors;
        _exact = exact;
        _amplitude = amplitude;
    }

    public bool IsExact => _exact is not null;

    public static Palette Build(IReadOnlyList<byte[]> frames, int maxColors = 256)
    {
        // 1. exact palette when few colours
        var exact = new Dictionary<int, byte>();
        foreach (var f in frames)
        {
            for (int p = 0; p < f.Length && exact is not null; p += 3)
            {
                int key = f[p] << 16 | f[p + 1] << 8 | f[p + 2];
                if (!exact.ContainsKey(key))
                {
                    if (exact.Count == maxColors) { exact = null; break; }
                    exact[key] = (byte)exact.Count;
                }
            }
            if (exact is null) break;
        }
        if (exact is not null)
        {
            var cols = new byte[exact.Count * 3];
            foreach (var (key, idx) in exact) { cols[idx * 3] = (byte)(key >> 16); cols[idx * 3 + 1] = (byte)(key >> 8); cols[idx * 3 + 2] = (byte)key; }
            return new Palette(cols, exact, 0);
        }

        // 2. median cut over a 32x32x32 histogram
        var count = new long[32768];
        var sum = new long[32768 * 3];
        foreach (var f in frames)
            for (int p = 0; p < f.Length; p += 3)
            {
                int bin = (f[p] >> 3) << 10 | (f[p + 1] >> 3) << 5 | f[p + 2] >> 3;
                count[bin]++;
                sum[bin * 3] += f[p]; sum[bin * 3 + 1] += f[p + 1]; sum[bin * 3 + 2] += f[p + 2];
            }
        var bins = Enumerable.Range(0, 32768).Where(b => count[b] > 0).ToArray();
        var boxes = new List<int[]> { bins };
        while (boxes.Count < maxColors)
        {
            int best = -1; long bestScore = 0; int bestAxis = 0;
            for (int i = 0; i < boxes.Count; i++)
            {
                if (boxes[i].Length < 2) continue;
                var (axis, range) = LongestAxis(boxes[i]);
                long pixels = 0;
                foreach (int b in boxes[i]) pixels += count[b];
                long score = range * (long)Math.Sqrt(pixels); // favour wide and populous boxes
                if (score > bestScore) { bestScore = score; best = i; bestAxis = axis; }
            }
            if (best < 0) break;
            var box = boxes[best];
            int shift = 10 - 5 * bestAxis;
            Array.Sort(box, (a, b) => ((a >> shift) & 31).CompareTo((b >> shift) & 31));
            long total = 0, half = 0;
            foreach (int b in box) total += count[b];
            int cut = 1;
            for (int i = 0; i < box.Length - 1; i++)
            {
                half += count[box[i]];
                cut = i + 1;
                if (half * 2 >= total) break;
            }
            boxes[best] = box[..cut];
            boxes.Add(box[cut..]);
        }
        var colors = new byte[boxes.Count * 3];
        for (int i = 0; i < boxes.Count; i++)
        {
            long n = 0, r = 0, g = 0, bl = 0;
            foreach (int b in boxes[i]) { n += count[b]; r += sum[b * 3]; g += sum[b * 3 + 1]; bl += sum[b * 3 + 2]; }
            colors[i * 3] = (byte)((r + n / 2) / n); colors[i * 3 + 1] = (byte)((g + n / 2) / n); colors[i * 3 + 2] = (byte)((bl + n / 2) / n);
        }
        return new Palette(colors, null, MedianSpacing(colors));
    }

    private static (int Axis, int Range) LongestAxis(int[] box)
    {
        int bestAxis = 0, bestRange = -1;
        for (int axis = 0; axis < 3; axis++)
        {
            int shift = 10 - 5 * axis, lo = 31, hi = 0;
            foreach (int b in box) { int v = (b >> shift) & 31; lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
            if (hi - lo > bestRange) { bestRange = hi - lo; bestAxis = axis; }
        }
        return (bestAxis, bestRange);
    }

    private static float MedianSpacing(byte[] colors)
    {
        int n = colors.Length / 3;
        if (n < 2) return 0;
        var d = new float[n];
        for (int i = 0; i < n; i++)
        {
            int best = int.MaxValue;
            for (int j = 0; j < n; j++)
            {
                if (i == j) continue;
                int dr = colors[i * 3] - colors[j * 3], dg = colors[i * 3 + 1] - colors[j * 3 + 1], db = colors[i * 3 + 2] - colors[j * 3 + 2];
                best = Math.Min(best, dr * dr + dg * dg + db * db);
            }
            d[i] = MathF.Sqrt(best);
        }
        Array.Sort(d);
        return Math.Min(d[n / 2], 48f);
    }

    /// <summary>Maps one RGB frame to palette indices.</summary>
    public byte[] Map(byte[] rgb, int width, int height)
    {
        var idx = new byte[width * height];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int p = y * width + x;
            int r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
            if (_exact is not null) { idx[p] = _exact[r << 16 | g << 8 | b]; continue; }
            float t = (Bayer8[(y & 7) * 8 + (x & 7)] + 0.5f) / 64f - 0.5f;
            int o = (int)MathF.Round(t * _amplitude);
            idx[p] = Nearest(Math.Clamp(r + o, 0, 255), Math.Clamp(g + o, 0, 255), Math.Clamp(b + o, 0, 255));
        }
        return idx;
    }

    private byte Nearest(int r, int g, int b)
    {
        int key = (r >> 2) << 12 | (g >> 2) << 6 | b >> 2;
        int c = _cache[key];
        if (c != 0) return (byte)(c - 1);
        int qr = (r & ~3) + 2, qg = (g & ~3) + 2, qb = (b & ~3) + 2, best = 0, bestD = int.MaxValue;
        for (int i = 0; i < Count; i++)
        {
            int dr = Colors[3 * i] - qr, dg = Colors[3 * i + 1] - qg, db = Colors[3 * i + 2] - qb;
            int d = 2 * dr * dr + 4 * dg * dg + db * db; // rough perceptual weights
            if (d < bestD) { bestD = d; best = i; }
        }
        _cache[key] = (short)(best + 1);
        return (byte)best;
    }
}

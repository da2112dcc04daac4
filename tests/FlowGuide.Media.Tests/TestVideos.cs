using Xunit.Abstractions;

namespace FlowGuide.Media.Tests;

/// <summary>Synthetic test clips and comparisons.</summary>
internal static class TestVideos
{
    /// <summary>A smooth moving colour field (gradients plus a soft blob): what video codecs and palettes handle well.</summary>
    public static RgbVideo Smooth(int width, int height, int frames, double fps = 25)
    {
        var list = new byte[frames][];
        for (int k = 0; k < frames; k++)
        {
            var f = list[k] = new byte[width * height * 3];
            double cx = width * (0.3 + 0.4 * k / Math.Max(1, frames - 1)), cy = height * 0.5, rad = Math.Min(width, height) * 0.25;
            for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                double blob = Math.Exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * rad * rad));
                int p = (y * width + x) * 3;
                f[p] = (byte)Math.Round(40 + 150.0 * x / width + 60 * blob);
                f[p + 1] = (byte)Math.Round(30 + 120.0 * y / height + 90 * blob);
                f[p + 2] = (byte)Math.Round(200 - 120.0 * (x + y) / (width + height) - 40 * blob + 10 * k / (double)frames);
            }
        }
        return new RgbVideo(width, height, fps, list);
    }

    /// <summary>Flat shapes on a flat background: few colours (GIF stores it exactly).</summary>
    public static RgbVideo Flat(int width, int height, int frames)
    {
        var list = new byte[frames][];
        for (int k = 0; k < frames; k++)
        {
            var f = list[k] = new byte[width * height * 3];
            for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int p = (y * width + x) * 3;
                bool sq = x >= 2 + k && x < 8 + k && y >= 3 && y < 9;
                bool stripe = (x / 4) % 2 == 0;
                (f[p], f[p + 1], f[p + 2]) = sq ? ((byte)220, (byte)30, (byte)40) : stripe ? ((byte)250, (byte)250, (byte)240) : ((byte)20, (byte)60, (byte)200);
            }
        }
        return new RgbVideo(width, height, 12, list);
    }

    public static double Psnr(RgbVideo a, RgbVideo b, int? frames = null)
    {
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        int n = frames ?? Math.Min(a.FrameCount, b.FrameCount);
        double se = 0;
        long count = 0;
        for (int k = 0; k < n; k++)
            for (int i = 0; i < a.Frames[k].Length; i++) { double d = a.Frames[k][i] - b.Frames[k][i]; se += d * d; count++; }
        double mse = se / count;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
    }

    public static int MaxDiff(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        int m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    /// <summary>
    /// xunit 2 has no dynamic skip: tests that need ffmpeg call this and return early (passing) with a logged note
    /// when it is missing. CI installs ffmpeg, so there they run.
    /// </summary>
    public static bool HaveFfmpeg(ITestOutputHelper log)
    {
        if (Ffmpeg.IsAvailable) return true;
        log.WriteLine("NOTE: ffmpeg/ffprobe not found on PATH; this test returned early without checking anything.");
        Console.Error.WriteLine("NOTE: ffmpeg not found; FlowGuide.Media ffmpeg tests returned early.");
        return false;
    }
}

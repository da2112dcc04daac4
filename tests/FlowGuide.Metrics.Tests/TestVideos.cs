using FlowGuide.Tensors;

namespace FlowGuide.Metrics.Tests;

/// <summary>Constructed videos [3, F, H, W] in [-1, 1] whose metric values are known.</summary>
internal static class TestVideos
{
    public const int Frames = 9, Size = 48;

    /// <summary>
    /// A smooth texture (a few sinusoids per channel, wavelengths 9 to 20 px) translated by (dx, dy) pixels per frame,
    /// evaluated analytically so that sub-pixel shifts are exact.
    /// </summary>
    public static Tensor Translating(float dx, float dy, int seed = 1, int frames = Frames, int size = Size)
    {
        var rng = new Random(seed);
        var waves = new (double Kx, double Ky, double Phase, double Amp)[3, 4];
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 4; k++)
            {
                double wavelength = 9 + 11 * rng.NextDouble(), angle = Math.PI * rng.NextDouble();
                double f = 2 * Math.PI / wavelength;
                waves[c, k] = (f * Math.Cos(angle), f * Math.Sin(angle), 2 * Math.PI * rng.NextDouble(), 0.2);
            }
        var data = new float[3 * frames * size * size];
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < frames; t++)
                for (int y = 0; y < size; y++)
                    for (int x = 0; x < size; x++)
                    {
                        double px = x - dx * t, py = y - dy * t, v = 0;
                        for (int k = 0; k < 4; k++)
                        {
                            var w = waves[c, k];
                            v += w.Amp * Math.Sin(w.Kx * px + w.Ky * py + w.Phase);
                        }
                        data[((c * frames + t) * size + y) * size + x] = (float)v;
                    }
        return Tensor.FromArray(data, 3, frames, size, size);
    }

    /// <summary>A static video: the translating texture's first frame repeated.</summary>
    public static Tensor Static(int seed = 1) => Translating(0, 0, seed);

    /// <summary><paramref name="video"/> plus independent Gaussian noise of standard deviation <paramref name="sigma"/> in every frame, clamped to [-1, 1].</summary>
    public static Tensor WithNoise(Tensor video, float sigma, int seed = 7)
    {
        var rng = new Random(seed);
        var data = video.ToArray();
        for (int i = 0; i < data.Length; i++)
        {
            double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
            double n = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            data[i] = Math.Clamp(data[i] + (float)(sigma * n), -1f, 1f);
        }
        return Tensor.FromArray(data, video.Shape.ToArray());
    }
}

using FlowGuide.SafeTensors;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>Helpers for the Wan transformer tests: the committed reference data and error measures.</summary>
internal static class WanTestUtil
{
    /// <summary>The folder written by tools/reference/wan_transformer_ref.py (copied next to the test assembly).</summary>
    public static string TinyDir => Path.Combine(AppContext.BaseDirectory, "Data", "wan_tiny");

    /// <summary>Every tensor of the reference io.safetensors (inputs, outputs, intermediates) as float32.</summary>
    public static Dictionary<string, Tensor> ReadIo()
    {
        using var f = SafeTensorsFile.Open(Path.Combine(TinyDir, "io.safetensors"));
        return f.Names.ToDictionary(n => n, n => f.Load(n));
    }

    /// <summary>max |actual - expected| / max |expected| (shapes must agree).</summary>
    public static double MaxRelError(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.Span;
        var a = actual.Span;
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < e.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)a[i] - e[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)e[i]));
        }
        Assert.True(double.IsFinite(maxDiff), "output has NaN or infinity");
        return maxDiff / Math.Max(maxRef, 1e-30);
    }

    /// <summary>A fresh temporary folder, deleted when disposed.</summary>
    public sealed class TempDir : IDisposable
    {
        public TempDir() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fg-wan-" + Guid.NewGuid().ToString("N")));

        public string Path { get; }

        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }
}

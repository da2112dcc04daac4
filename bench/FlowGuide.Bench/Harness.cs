using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowGuide.Tensors;

namespace FlowGuide.Bench;

/// <summary>One measured case: median and minimum wall time over repeated runs after warm-up, plus an optional rate.</summary>
public sealed record BenchResult(string Case, string Impl, double MedianMs, double MinMs, int Runs, double? Gflops, long? PeakBytes, string Note);

/// <summary>
/// A small timing harness: warm-up runs (JIT tiering, pool fill), then repeated runs until both a minimum count and a
/// minimum total time are reached. Medians are reported, as in the Python reference script, so both sides are measured alike.
/// </summary>
public static class Harness
{
    public static BenchResult Measure(string name, string impl, Action run, double? flops = null, int warmup = 3, int minRuns = 5, double minSeconds = 1.0, string note = "")
    {
        for (int i = 0; i < warmup; i++) run();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || total.Elapsed.TotalSeconds < minSeconds)
        {
            var sw = Stopwatch.StartNew();
            run();
            times.Add(sw.Elapsed.TotalMilliseconds);
            if (times.Count >= 200) break;
        }
        times.Sort();
        double med = times[times.Count / 2];
        return new BenchResult(name, impl, med, times[0], times.Count, flops is { } f ? f / (med * 1e6) : null, null, note);
    }

    public static void Print(BenchResult r, TextWriter? jsonOut)
    {
        var rate = r.Gflops is { } g ? $"{g,8:F1} GFLOP/s" : "";
        var mem = r.PeakBytes is { } p ? $"  peak {p / 1048576.0:F1} MiB" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Case,-40} {r.Impl,-18} median {r.MedianMs,9:F2} ms  min {r.MinMs,9:F2} ms  {rate}{mem} {r.Note}"));
        jsonOut?.WriteLine(JsonSerializer.Serialize(r));
    }
}

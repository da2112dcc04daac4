using FlowGuide.Models.Video;
using FlowGuide.SafeTensors;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using Xunit;

namespace FlowGuide.Cli.Tests;

public sealed class ModelConvertTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-convert-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    [Fact]
    public void ConvertsToF16AndTheModelStillLoadsAndGenerates()
    {
        var src = TinyModel.Create(Path.Combine(_dir, "src"));
        var dst = Path.Combine(_dir, "dst");
        var r = Run("model", "convert", "--from", src, "--to", dst, "--dtype", "f16");
        Assert.True(r.Code == 0, r.Err);
        using (var f = SafeTensorsFile.Open(Path.Combine(dst, "transformer", "diffusion_pytorch_model.safetensors")))
            Assert.All(f.Names, n => Assert.Equal(DType.F16, f.GetInfo(n).DType));
        long Size(string d) => new DirectoryInfo(d).EnumerateFiles("*.safetensors", SearchOption.AllDirectories).Sum(x => x.Length);
        Assert.True(Size(dst) < 0.6 * Size(src), $"{Size(dst)} vs {Size(src)} bytes");
        var a = ShippedModel.Load(src);
        var b = ShippedModel.Load(dst);
        Assert.IsType<CompactVae>(b.Vae);
        var wa = a.Transformer.NamedParameters().First().Value.ToArray();
        var wb = b.Transformer.NamedParameters().First().Value.ToArray();
        for (int i = 0; i < wa.Length; i++) Assert.True(Math.Abs(wa[i] - wb[i]) <= 1e-3 * Math.Max(1, Math.Abs(wa[i])), $"weight {i}: {wa[i]} vs {wb[i]}");
        // the target is never overwritten
        var again = Run("model", "convert", "--from", src, "--to", dst);
        Assert.Equal(1, again.Code);
        Assert.Contains("already exists", again.Err);
        Assert.Equal(2, Run("model", "convert", "--from", src, "--to", Path.Combine(_dir, "x"), "--dtype", "f8").Code);
        Assert.False(Directory.Exists(Path.Combine(_dir, "x")));
    }

    [Fact]
    public void SamplingDefaultsCanBeReplacedAndAreChecked()
    {
        var src = TinyModel.Create(Path.Combine(_dir, "src"));
        var before = ShippedModel.Load(src).Defaults;
        var dst = Path.Combine(_dir, "cfg8");
        var r = Run("model", "convert", "--from", src, "--to", dst, "--cfg", "8", "--steps", "12");
        Assert.True(r.Code == 0, r.Err);
        var after = ShippedModel.Load(dst).Defaults;
        Assert.Equal(before with { GuidanceScale = 8f, Steps = 12 }, after);
        var bad = Run("model", "convert", "--from", src, "--to", Path.Combine(_dir, "bad"), "--cfg", "0.5");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--cfg", bad.Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "bad")));
    }
}

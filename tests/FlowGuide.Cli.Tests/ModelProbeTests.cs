using Xunit;

namespace FlowGuide.Cli.Tests;

public sealed class ModelProbeTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-probe-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    [Fact]
    public void PrintsOneRowPerAttributeWithAColumnPerNoiseLevel()
    {
        var model = TinyModel.Create(Path.Combine(_dir, "m"));
        var r = Run("model", "probe", "--model", model, "--clips", "3", "--t", "0.5,0.9", "--split", "test");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("3 test clips of 5x16x16", r.Out);
        Assert.Contains("| attribute | clips | t = 0.5 | t = 0.9 |", r.Out);
        foreach (var a in new[] { "colour", "shape", "motion", "background", "everything" })
            Assert.Matches($@"\| {a} \| \d \| [+-]\d\.\d{{4}} \[[+-]\d\.\d{{4}}, [+-]\d\.\d{{4}}\]\*? \| ", r.Out);
        Assert.DoesNotContain("-+", r.Out);
    }

    [Fact]
    public void BadInputGetsAOneLineError()
    {
        var model = TinyModel.Create(Path.Combine(_dir, "m"));
        var t = Run("model", "probe", "--model", model, "--t", "0.5,1.5");
        Assert.NotEqual(0, t.Code);
        Assert.Contains("--t must be a comma-separated list of noise levels in (0, 1)", t.Err);
        var c = Run("model", "probe", "--model", model, "--clips", "1");
        Assert.NotEqual(0, c.Code);
        Assert.Contains("--clips must be at least 2", c.Err);
        var s = Run("model", "probe", "--model", model, "--split", "dev");
        Assert.Contains("--split must be", s.Err);
        var m = Run("model", "probe", "--model", Path.Combine(_dir, "missing"));
        Assert.NotEqual(0, m.Code);
        Assert.Contains("does not exist", m.Err);
    }
}

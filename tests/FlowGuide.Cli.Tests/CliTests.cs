using FlowGuide.Cli;

namespace FlowGuide.Cli.Tests;

public class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    [Fact]
    public void HelpListsCommands()
    {
        var (code, output, _) = Run("help");
        Assert.Equal(0, code);
        Assert.Contains("info", output);
    }

    [Fact]
    public void UnknownCommandIsOneLineAndExitCode2()
    {
        var (code, _, err) = Run("frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'frobnicate'", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void UnknownOptionIsNamed()
    {
        var (code, _, err) = Run("info", "--bogus", "3");
        Assert.Equal(2, code);
        Assert.Contains("unknown option --bogus", err);
        (code, _, err) = Run("info", "--bogus");
        Assert.Equal(2, code);
        Assert.Contains("unknown option --bogus", err);
    }

    [Fact]
    public void InfoReportsTheGemmBackend()
    {
        var (code, output, _) = Run("info");
        Assert.Equal(0, code);
        Assert.Contains("gemm", output);
    }

    [Fact]
    public void ArgsParsesValuesFlagsAndRejectsBadNumbers()
    {
        var a = new Args(new[] { "x", "--steps", "20", "--cfg=4.5", "--fast" }, new HashSet<string> { "fast" });
        Assert.Equal(20, a.Int("steps", 1));
        Assert.Equal(4.5f, a.Float("cfg", 1));
        Assert.True(a.Flag("fast"));
        Assert.Equal(new[] { "x" }, a.Positional);
        a.EnsureAllUsed(1);
        var b = new Args(new[] { "--steps", "many" }, new HashSet<string>());
        Assert.Contains("expects an integer", Assert.Throws<UsageException>(() => b.Int("steps", 1)).Message);
    }
}

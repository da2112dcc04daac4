using FlowGuide.Guidance;

namespace FlowGuide.Cli.Tests;

/// <summary>
/// FlowMotion's settings are read by one parser for <c>flowguide transfer</c> (no prefix) and <c>flowguide eval</c>
/// (<c>--flowmotion-</c>): the same values give the same options, and each error names the option as the user wrote it.
/// </summary>
public sealed class FlowMotionArgsTests
{
    private static readonly string[] Settings = { "mode", "clean-latent", "alpha", "12", "beta", "3", "gamma", "0.2", "lr", "0.03", "iterations", "4", "guided-steps", "6" };

    private static Args Read(string prefix, params string[] pairs)
    {
        var argv = new List<string>();
        for (int i = 0; i < pairs.Length; i += 2) { argv.Add("--" + prefix + pairs[i]); argv.Add(pairs[i + 1]); }
        return new Args(argv, new HashSet<string>());
    }

    [Fact]
    public void TransferAndEvalReadTheSameSettingsAlike()
    {
        var (transfer, tGuided) = TransferArgs.ReadFlowMotion(Read("", Settings), "");
        var (eval, eGuided) = TransferArgs.ReadFlowMotion(Read("flowmotion-", Settings), "flowmotion-");
        Assert.Equal(transfer, eval);
        Assert.Equal("6", tGuided);
        Assert.Equal(tGuided, eGuided);
        Assert.Equal(FlowMotionMode.CleanLatent, eval.Mode);
        Assert.Equal((12.0, 3.0, 0.2, 0.03, 4), (eval.Alpha, eval.Beta, eval.Gamma, eval.LearningRate, eval.Iterations));
        Assert.Equal(new FlowMotionOptions().Alpha, TransferArgs.ReadFlowMotion(Read("flowmotion-"), "flowmotion-").Options.Alpha);
        // the command-line reader goes through it too: defaults and the switches on top
        var full = TransferArgs.Read(Read("", Settings));
        Assert.Equal(transfer, full.FlowMotion);
    }

    [Theory]
    [InlineData("mode", "fast", "mode must be latent-prediction or clean-latent")]
    [InlineData("alpha", "-1", "alpha must be non-negative")]
    [InlineData("lr", "0", "lr must be positive")]
    [InlineData("lr", "abc", "lr expects a number")]
    [InlineData("iterations", "0", "iterations must be at least 1")]
    [InlineData("guided-steps", "x", "guided-steps expects a step count")]
    public void ErrorsNameTheOptionWithItsPrefix(string name, string value, string message)
    {
        foreach (var prefix in new[] { "", "flowmotion-" })
        {
            var e = Assert.Throws<UsageException>(() => TransferArgs.ReadFlowMotion(Read(prefix, name, value), prefix));
            Assert.StartsWith("--" + prefix + message, e.Message);
        }
    }
}

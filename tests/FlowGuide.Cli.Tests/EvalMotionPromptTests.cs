using System.Text.Json.Nodes;
using FlowGuide.Cli.Eval;
using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Tests;

/// <summary>
/// The <c>motionprompt</c> and <c>motionprompt+flowmo</c> methods of <c>flowguide eval</c> on the tiny random model of
/// <see cref="TinyModel"/> (13 frames of 16 x 16, 3 steps) with an untrained tiny discriminator: the options reach the
/// recorded settings, the videos are what <c>generate</c> makes with the same options and seed, and option mistakes are
/// one-line errors raised before any output.
/// </summary>
public sealed class EvalMotionPromptTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-evalmp-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model, _prompts, _disc;

    public EvalMotionPromptTests()
    {
        Directory.CreateDirectory(_dir);
        _model = TinyModel.Create(Path.Combine(_dir, "model"));
        _prompts = Path.Combine(_dir, "prompts.txt");
        File.WriteAllText(_prompts, EvalCommandTests.Prompts[0] + "\n");
        _disc = Path.Combine(_dir, "disc");
        new FlowDiscriminator(FlowDiscriminatorConfig.Tiny, new Rng(7)).Save(_disc);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => EvalCommandTests.Run(null, default, argv);

    private static readonly string[] MotionPromptOptions = { "--motionprompt-window", "0:0.67", "--motionprompt-lr", "0.05", "--motionprompt-l2", "1" };

    private string[] Eval(string outDir, string methods, params string[] extra) =>
        new[] { "eval", "--methods", methods, "--prompts", _prompts, "--seeds", "2", "--out", outDir, "--model", _model, "--frames", "13", "--no-report" }
            .Concat(extra).ToArray();

    [Fact]
    public void RecordsItsOptionsAndMakesWhatGenerateMakes()
    {
        // 1. base, MotionPrompt alone and with FlowMo; FlowMo's options are legal without 'flowmo' itself being listed
        var outDir = Path.Combine(_dir, "run");
        var r = Run(Eval(outDir, "base,motionprompt,motionprompt+flowmo",
            MotionPromptOptions.Concat(new[] { "--motionprompt-discriminator", _disc, "--flowmo-window", "0:0.67" }).ToArray()));
        Assert.True(r.Code == 0, r.Err);
        var rows = EvalResults.Load(outDir);
        Assert.Equal(new[] { "base", "motionprompt", "motionprompt+flowmo" }, rows.Select(x => x.Method).ToArray());

        // 2. the settings recorded for a resumed run: every option, the discriminator and a fingerprint of its weights
        var run = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, EvalRunner.RunFileName)))!["methods"]!;
        var mp = run["motionprompt"]!;
        Assert.Equal("motionprompt", mp["name"]!.GetValue<string>());
        Assert.Equal("0:0.67", mp["window"]!.GetValue<string>());
        Assert.Equal(0.05, mp["learning_rate"]!.GetValue<double>());
        Assert.Equal(1.0, mp["l2"]!.GetValue<double>());
        Assert.Equal(3, mp["iterations"]!.GetValue<int>());
        Assert.Equal(Path.GetFullPath(_disc), mp["discriminator"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{16}$", mp["discriminator_sha256"]!.GetValue<string>());
        var both = run["motionprompt+flowmo"]!;
        Assert.True(JsonNode.DeepEquals(mp, both["methods"]![0]));
        Assert.Equal("flowmo", both["methods"]![1]!["name"]!.GetValue<string>());
        Assert.Equal("0:0.67", both["methods"]![1]!["window"]!.GetValue<string>());

        // 3. each video is what 'generate' writes for the same prompt, seed and options
        byte[] Generate(string name, params string[] guidance)
        {
            var path = Path.Combine(_dir, name + ".gif");
            var g = Run(new[] { "generate", "--prompt", EvalCommandTests.Prompts[0], "--seed", "2", "--model", _model, "--frames", "13", "--out", path }
                .Concat(guidance).ToArray());
            Assert.True(g.Code == 0, g.Err);
            return File.ReadAllBytes(path);
        }
        byte[] Video(string method) => File.ReadAllBytes(Path.Combine(outDir, rows.Single(x => x.Method == method).Video));
        var mpArgs = new[] { "--motionprompt-discriminator", _disc }.Concat(MotionPromptOptions).ToArray();
        Assert.Equal(Generate("mp", new[] { "--guidance", "motionprompt" }.Concat(mpArgs).ToArray()), Video("motionprompt"));
        Assert.Equal(Generate("mpfm", new[] { "--guidance", "motionprompt,flowmo", "--flowmo-window", "0:0.67" }.Concat(mpArgs).ToArray()),
            Video("motionprompt+flowmo"));
        Assert.NotEqual(Video("base"), Video("motionprompt"));
        Assert.NotEqual(Video("motionprompt"), Video("motionprompt+flowmo"));

        // 4. a resumed run with other MotionPrompt settings is refused
        var changed = Run(Eval(outDir, "motionprompt", "--motionprompt-discriminator", _disc, "--motionprompt-window", "0:0.67", "--motionprompt-lr", "0.01"));
        Assert.Equal(1, changed.Code);
        Assert.Contains("motionprompt results made with", changed.Err);
    }

    [Fact]
    public void OptionMistakesAreOneLineErrorsBeforeAnyOutput()
    {
        var outDir = Path.Combine(_dir, "errors");
        void Fails(int code, string contains, params string[] argv)
        {
            var r = Run(argv);
            Assert.True(r.Code == code, $"exit {r.Code} for {string.Join(' ', argv)}: {r.Err}");
            Assert.Contains(contains, r.Err);
            Assert.Single(r.Err.Trim().Split('\n'));
            Assert.False(Directory.Exists(outDir), "nothing may be written before the options are checked");
        }

        Fails(2, "options of method 'motionprompt'", Eval(outDir, "base", "--motionprompt-lr", "0.01"));
        Fails(2, "options of method 'motionprompt'", Eval(outDir, "flowmo", "--motionprompt-discriminator", _disc));
        Fails(2, "options of method 'flowmo'", Eval(outDir, "motionprompt", "--motionprompt-discriminator", _disc, "--flowmo-lr", "0.01"));
        Fails(2, "--motionprompt-tv must be sum or mean", Eval(outDir, "motionprompt", "--motionprompt-tv", "max"));
        Fails(2, "--motionprompt-flow must be classical or learned", Eval(outDir, "motionprompt+flowmo", "--motionprompt-flow", "raft"));
        Fails(2, "FramePairs", Eval(outDir, "motionprompt", "--motionprompt-pairs", "0"));
        Fails(1, "train discriminator", Eval(outDir, "base,motionprompt", "--motionprompt-discriminator", Path.Combine(_dir, "nope")));
        Fails(1, "train discriminator", Eval(outDir, "motionprompt+flowmo", "--motionprompt-discriminator", Path.Combine(_dir, "nope")));
    }
}

using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Cli.Tests;

/// <summary>
/// <c>flowguide train discriminator</c> and <c>generate --guidance motionprompt</c> on a tiny random model folder
/// (5 frames of 16x16; text context 40 so every motion-world caption fits).
/// </summary>
public sealed class MotionPromptCommandTests : IDisposable
{
    private const string Prompt = "a red circle moves left across a striped background";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-mp-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model;

    public MotionPromptCommandTests()
    {
        Directory.CreateDirectory(_dir);
        _model = Path.Combine(_dir, "model");
        var text = new WordTextEncoder(WordTextEncoderConfig.Tiny with { MaxLength = 40 }, new Vocabulary(CaptionGrammar.Vocabulary), new Rng(1));
        var vae = new WanVae(TinyModel.VaeConfig, new Rng(2));
        var dit = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(3));
        ShippedModel.Save(_model, dit, vae, text, new ModelDefaults { Frames = 5, Height = 16, Width = 16, Steps = 3, Fps = 8 });
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    private (int Code, string Out, string Err) Train(string outDir) =>
        Run("train", "discriminator", "--out", outDir, "--model", _model, "--real-videos", "4", "--fake-videos", "4", "--pairs", "2",
            "--epochs", "2", "--batch", "4", "--size", "tiny", "--steps", "2");

    private (int Code, string Out, string Err) Generate(string outPath, params string[] extra) =>
        Run(new[] { "generate", "--prompt", Prompt, "--model", _model, "--out", outPath, "--seed", "5", "--steps", "4" }.Concat(extra).ToArray());

    [Fact]
    public void TrainDiscriminatorThenGenerateWithMotionPromptAlone()
    {
        var disc = Path.Combine(_dir, "disc");
        var r = Train(disc);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("validation accuracy", r.Out);
        Assert.Contains("4 videos generated", r.Out);
        foreach (var f in new[] { "config.json", "model.safetensors", "README.md" }) Assert.True(File.Exists(Path.Combine(disc, f)), f);
        Assert.Contains("Validation accuracy", File.ReadAllText(Path.Combine(disc, "README.md")));
        var again = Train(disc);
        Assert.True(again.Code == 0, again.Err);
        Assert.Contains("0 videos generated", again.Out); // flows and videos come from DISC/cache

        var a = Path.Combine(_dir, "a.gif");
        var b = Path.Combine(_dir, "b.gif");
        var plain = Path.Combine(_dir, "plain.gif");
        string[] mp = { "--guidance", "motionprompt", "--motionprompt-discriminator", disc, "--motionprompt-window", "0:0.5", "--motionprompt-lr", "0.05" };
        var g = Generate(a, mp);
        Assert.True(g.Code == 0, g.Err);
        Assert.Contains("guidance motionprompt", g.Out);
        var meta = File.ReadAllText(a + ".json");
        Assert.Contains("\"name\": \"motionprompt\"", meta);
        Assert.Contains("\"init_word\": \"authentic\"", meta);
        Assert.Equal(0, Generate(b, mp).Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Equal(0, Generate(plain).Code);
        Assert.NotEqual(File.ReadAllBytes(plain), File.ReadAllBytes(a));

        // combined with FlowMo: both run, in the order given, and the metadata lists both
        var c = Path.Combine(_dir, "c.gif");
        var both = Generate(c, "--guidance", "motionprompt,flowmo", "--motionprompt-discriminator", disc, "--motionprompt-window", "0:0.5",
            "--flowmo-window", "0:0.5", "--frames", "9");
        Assert.True(both.Code == 0, both.Err);
        var bothMeta = File.ReadAllText(c + ".json");
        Assert.Contains("\"name\": \"motionprompt,flowmo\"", bothMeta);
        Assert.Contains("\"methods\"", bothMeta);
    }

    [Fact]
    public void GuidanceOptionMistakesAreOneLineErrors()
    {
        var x = Path.Combine(_dir, "x.gif");
        Assert.Equal(2, Generate(x, "--motionprompt-lr", "0.01").Code);                       // needs --guidance motionprompt
        Assert.Equal(2, Generate(x, "--guidance", "none,flowmo").Code);
        Assert.Equal(2, Generate(x, "--guidance", "flowmo,flowmo").Code);
        Assert.Equal(2, Generate(x, "--guidance", "motionprompt", "--motionprompt-tv", "max").Code);
        Assert.Equal(2, Generate(x, "--guidance", "motionprompt", "--motionprompt-pairs", "0").Code);
        var missing = Generate(x, "--guidance", "motionprompt", "--motionprompt-discriminator", Path.Combine(_dir, "nope"));
        Assert.Equal(1, missing.Code);
        Assert.Single(missing.Err.Trim().Split('\n'));
        Assert.Contains("train discriminator", missing.Err);
        Assert.False(File.Exists(x));
        Assert.Equal(2, Run("train", "discriminator", "--model", _model).Code);               // --out is required
        Assert.Equal(2, Run("train", "discriminator", "--out", Path.Combine(_dir, "d"), "--model", _model, "--real-videos", "1").Code);
        Assert.Equal(2, Run("train", "discriminator", "--out", Path.Combine(_dir, "d"), "--size", "huge").Code);
    }
}

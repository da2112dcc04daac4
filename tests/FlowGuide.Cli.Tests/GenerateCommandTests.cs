namespace FlowGuide.Cli.Tests;

/// <summary><c>flowguide generate</c> on a tiny random model folder: outputs, determinism, and one-line errors with no leftovers.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    private const string Prompt = "a red circle slowly moves left across a striped background";
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "fg-gen-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _model;

    public GenerateCommandTests()
    {
        Directory.CreateDirectory(_dir);
        _model = TinyModel.Create(Path.Combine(_dir, "model"));
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Run(params string[] argv) => CliRun.Run(argv);

    private (int Code, string Out, string Err) Generate(string outPath, params string[] extra) =>
        Run(new[] { "generate", "--prompt", Prompt, "--model", _model, "--out", outPath }
            .Concat(extra.Contains("--seed") ? extra : extra.Concat(new[] { "--seed", "7" })).ToArray());

    /// <summary>Files under the test folder other than the model's (what a run left behind).</summary>
    private string[] Leftovers() => Directory.GetFileSystemEntries(_dir).Where(p => Path.GetFileName(p) != "model").ToArray();

    [Fact]
    public void WritesGifWithSidecarAndSameSeedGivesSameBytes()
    {
        var a = Path.Combine(_dir, "a.gif");
        var b = Path.Combine(_dir, "b.gif");
        var r = Generate(a);
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("seed 7", r.Out);
        Assert.Contains("peak tensor memory", r.Out);
        Assert.True(File.Exists(a));
        var meta = File.ReadAllText(a + ".json");
        Assert.Contains("\"seed\": 7", meta);
        Assert.Contains(Prompt, meta);
        Assert.Equal(0, Generate(b).Code);
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        Assert.Equal(0, Generate(Path.Combine(_dir, "c.gif"), "--seed", "8").Code);
        Assert.NotEqual(File.ReadAllBytes(a), File.ReadAllBytes(Path.Combine(_dir, "c.gif")));
    }

    [Fact]
    public void WritesFrameFolderAndY4m()
    {
        var folder = Path.Combine(_dir, "frames") + Path.DirectorySeparatorChar;
        var r = Generate(folder, "--sampler", "euler", "--steps", "2", "--cfg", "1");
        Assert.True(r.Code == 0, r.Err);
        Assert.Equal(5, Directory.GetFiles(folder, "*.png").Length);
        Assert.True(File.Exists(Path.Combine(folder, "flowguide.json")));
        var y = Path.Combine(_dir, "v.y4m");
        Assert.Equal(0, Generate(y, "--frames", "9").Code);
        Assert.True(File.Exists(y) && File.Exists(y + ".json"));
    }

    private void AssertFailsCleanly((int Code, string Out, string Err) r, string expected)
    {
        Assert.NotEqual(0, r.Code);
        Assert.Single(r.Err.Trim().Split('\n'));
        Assert.Contains(expected, r.Err);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void UnknownWordsAreNamed() =>
        AssertFailsCleanly(Run("generate", "--prompt", "a purple unicorn moves left", "--model", _model, "--out", Path.Combine(_dir, "x.gif")), "'unicorn'");

    [Fact]
    public void FramesMustBe4kPlus1() =>
        AssertFailsCleanly(Generate(Path.Combine(_dir, "x.gif"), "--frames", "8"), "4k+1");

    [Fact]
    public void UnwritableOutputPathFails()
    {
        AssertFailsCleanly(Generate(Path.Combine(_dir, "no-such-folder", "x.gif")), "does not exist");
        AssertFailsCleanly(Generate(Path.Combine(_dir, "x.avi2")), "unknown video extension");
    }

    [Fact]
    public void MissingModelFolderFails()
    {
        var r = Run("generate", "--prompt", Prompt, "--model", Path.Combine(_dir, "nope"), "--out", Path.Combine(_dir, "x.gif"));
        AssertFailsCleanly(r, "does not exist");
        File.Delete(Path.Combine(_model, "vae", "config.json"));
        AssertFailsCleanly(Generate(Path.Combine(_dir, "x.gif")), "config.json");
    }

    [Fact]
    public void FlowMoGuidanceRunsAndIsRecorded()
    {
        var plain = Path.Combine(_dir, "plain.gif");
        var guided = Path.Combine(_dir, "flowmo.gif");
        var again = Path.Combine(_dir, "flowmo2.gif");
        // 13 frames = 4 latent frames: with 2 latent frames there is one difference, zero variance and no gradient
        Assert.Equal(0, Generate(plain, "--steps", "4", "--frames", "13").Code);
        var r = Generate(guided, "--steps", "4", "--frames", "13", "--guidance", "flowmo", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.5");
        Assert.True(r.Code == 0, r.Err);
        Assert.Contains("guidance flowmo", r.Out);
        var meta = File.ReadAllText(guided + ".json");
        Assert.Contains("\"name\": \"flowmo\"", meta);
        Assert.Contains("\"window\": \"0:0.5\"", meta);
        Assert.Equal(0, Generate(again, "--steps", "4", "--frames", "13", "--guidance", "flowmo", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.5").Code);
        Assert.Equal(File.ReadAllBytes(guided), File.ReadAllBytes(again));
        Assert.NotEqual(File.ReadAllBytes(plain), File.ReadAllBytes(guided));
        Assert.Contains("\"reduction\": \"max\"", meta);

        var mean = Path.Combine(_dir, "flowmo-mean.gif");
        Assert.Equal(0, Generate(mean, "--steps", "4", "--frames", "13", "--guidance", "flowmo", "--flowmo-lr", "0.05", "--flowmo-window", "0:0.5", "--flowmo-reduction", "mean").Code);
        Assert.Contains("\"reduction\": \"mean\"", File.ReadAllText(mean + ".json"));
        Assert.NotEqual(File.ReadAllBytes(guided), File.ReadAllBytes(mean));
    }

    [Fact]
    public void FlowMoOptionsAreChecked()
    {
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--flowmo-lr", "0.01").Code); // needs --guidance flowmo
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--guidance", "flowmo", "--flowmo-window", "0.5:0.2").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--guidance", "flowmo", "--flowmo-optimizer", "rmsprop").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--guidance", "flowmo", "--flowmo-lr", "-1").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--guidance", "flowmo", "--flowmo-reduction", "median").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--guidance", "magic").Code);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void AModelFolderWithAMotionClassifierIsGuidedByDefaultAndZeroTurnsItOff()
    {
        var plain = Path.Combine(_dir, "plain.gif");
        Assert.Equal(0, Generate(plain, "--steps", "4", "--frames", "13").Code);
        Assert.Contains("\"name\": \"none\"", File.ReadAllText(plain + ".json"));
        // a classifier over the motion world's labels, told the subject's colour, and a default strength in model_index.json
        var classifier = new FlowGuide.Models.Video.LatentMotionClassifier(
            FlowGuide.Models.Video.LatentMotionClassifierConfig.Tiny(4, FlowGuide.Training.World.MotionLabels.Names,
                FlowGuide.Training.World.MotionLabels.Subjects), new FlowGuide.Tensors.Rng(3));
        classifier.Save(Path.Combine(_model, "motion_classifier"));
        var index = Path.Combine(_model, "model_index.json");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(index))!;
        json["defaults"]!["motion_guidance_scale"] = 5000.0;
        File.WriteAllText(index, json.ToJsonString());

        var guided = Path.Combine(_dir, "guided.gif");
        var r = Generate(guided, "--steps", "4", "--frames", "13");
        Assert.True(r.Code == 0, r.Err);
        var meta = File.ReadAllText(guided + ".json");
        Assert.Contains("\"name\": \"motion-guidance\"", meta);
        Assert.Contains("\"scale\": 5000", meta);
        // (the change to the latent is tested in MotionClassifierHookTests; the tiny random decoder hides it in 8-bit frames)
        var off = Path.Combine(_dir, "off.gif");
        Assert.Equal(0, Generate(off, "--steps", "4", "--frames", "13", "--motion-guidance-scale", "0").Code);
        Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(off));
        // a noise search among 3 candidates is recorded with its scores and choice; a bad count is a usage error
        var searched = Path.Combine(_dir, "searched.gif");
        r = Generate(searched, "--steps", "4", "--frames", "13", "--motion-candidates", "3");
        Assert.True(r.Code == 0, r.Err);
        var sm = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(searched + ".json"))!["guidance"]!;
        Assert.Equal(3, sm["candidates"]!.GetValue<int>());
        Assert.Equal(3, sm["noise_search"]!["log_probabilities"]!.AsArray().Count);
        Assert.InRange(sm["noise_search"]!["chosen"]!.GetValue<int>(), 0, 2);
        var bad = Generate(Path.Combine(_dir, "bad.gif"), "--steps", "4", "--frames", "13", "--motion-candidates", "0");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--motion-candidates", bad.Err);
        Assert.Equal(2, Generate(Path.Combine(_dir, "bad.gif"), "--motion-probe-sigma", "1.5").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "bad.gif"), "--motion-min-class-accuracy", "2").Code);
        Assert.Equal(2, Generate(Path.Combine(_dir, "bad.gif"), "--motion-lookahead-steps", "0").Code);
        Assert.True(sm["steered"]!.GetValue<bool>());
        Assert.False(File.Exists(Path.Combine(_dir, "bad.gif")));
        // the model's default count
        json["defaults"]!["motion_candidates"] = 2;
        File.WriteAllText(index, json.ToJsonString());
        var byDefault = Path.Combine(_dir, "default-search.gif");
        Assert.Equal(0, Generate(byDefault, "--steps", "4", "--frames", "13").Code);
        Assert.Equal(2, System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(byDefault + ".json"))!["guidance"]!["noise_search"]!["log_probabilities"]!.AsArray().Count);
        json["defaults"]!.AsObject().Remove("motion_candidates");
        File.WriteAllText(index, json.ToJsonString());
        // with another method the two are recorded in order
        var both = Path.Combine(_dir, "both.gif");
        Assert.Equal(0, Generate(both, "--steps", "4", "--frames", "13", "--guidance", "flowmo").Code);
        Assert.Contains("motion-guidance,flowmo", File.ReadAllText(both + ".json"));
    }

    [Fact]
    public void MotionGuidanceOptionsAreChecked()
    {
        var r = Generate(Path.Combine(_dir, "x.gif"), "--motion-guidance-scale", "5");   // the tiny model has no classifier
        Assert.Equal(2, r.Code);
        Assert.Contains("motion_classifier", r.Err);
        Assert.Equal(2, Generate(Path.Combine(_dir, "x.gif"), "--motion-guidance-scale", "strong").Code);
        var missing = Generate(Path.Combine(_dir, "x.gif"), "--motion-guidance-classifier", Path.Combine(_dir, "nope"));
        Assert.Equal(2, missing.Code);
        Assert.Contains("nope", missing.Err);
        Assert.Empty(Leftovers());
    }

    [Fact]
    public void MissingPromptIsAUsageError() =>
        Assert.Equal(2, Run("generate", "--model", _model).Code);
}

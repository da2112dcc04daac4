using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.SafeTensors;
using FlowGuide.Tensors;
using Xunit.Abstractions;

namespace FlowGuide.Models.Tests.Wan;

/// <summary>Parameter names and shapes (825 for 1.3B), save/load in the diffusers layout, strict-load error reports.</summary>
public class WanCheckpointTests(ITestOutputHelper log)
{
    public static TheoryData<string> Variants => new() { "tiny", "no-cross-norm", "no-qk-norm", "patch-2x1x3", "small-1-layer" };

    private static WanTransformerConfig Variant(string name) => name switch
    {
        "tiny" => WanTransformerConfig.Tiny,
        "no-cross-norm" => WanTransformerConfig.Tiny with { CrossAttnNorm = false },
        "no-qk-norm" => WanTransformerConfig.Tiny with { QkNorm = null },
        "patch-2x1x3" => WanTransformerConfig.Tiny with { PatchSize = (2, 1, 3), NumLayers = 3 },
        "small-1-layer" => WanTransformerConfig.Small with { NumLayers = 1 },
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void ExpectedParametersEqualNamedParameters(string variant)
    {
        var config = Variant(variant);
        var expected = WanTransformer3D.ExpectedParameters(config).Select(p => $"{p.Name} [{string.Join(", ", p.Shape)}]").ToList();
        var actual = new WanTransformer3D(config).NamedParameters().Select(p => $"{p.Key} [{string.Join(", ", p.Value.Shape.ToArray())}]").ToList();
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void CreateEmptyHasTheSameParametersAllZero()
    {
        var empty = WanTransformer3D.CreateEmpty(WanTransformerConfig.Tiny);
        Assert.Equal(WanTransformer3D.ExpectedParameters(WanTransformerConfig.Tiny).Select(p => p.Name), empty.NamedParameters().Select(p => p.Key));
        // Zeros, except norm weights, which are ones in every construction (as in PyTorch).
        Assert.All(empty.NamedParameters(), p =>
            Assert.True(p.Value.ToArray().All(v => v == (p.Key.EndsWith("norm_q.weight") || p.Key.EndsWith("norm_k.weight") || p.Key.EndsWith("norm2.weight") ? 1f : 0f)), p.Key));
    }

    [Fact]
    public void Config13BHas825TensorsWithDiffusersShapes()
    {
        var ps = WanTransformer3D.ExpectedParameters(WanTransformerConfig.Wan21_1_3B).ToDictionary(p => p.Name, p => p.Shape);
        Assert.Equal(825, ps.Count);
        Assert.Equal(15 + 27 * 30, ps.Count);
        Assert.Equal(new[] { 1536, 16, 1, 2, 2 }, ps["patch_embedding.weight"]);
        Assert.Equal(new[] { 1536, 256 }, ps["condition_embedder.time_embedder.linear_1.weight"]);
        Assert.Equal(new[] { 9216, 1536 }, ps["condition_embedder.time_proj.weight"]);
        Assert.Equal(new[] { 1536, 4096 }, ps["condition_embedder.text_embedder.linear_1.weight"]);
        Assert.Equal(new[] { 1, 6, 1536 }, ps["blocks.29.scale_shift_table"]);
        Assert.Equal(new[] { 1536 }, ps["blocks.0.attn2.norm_k.weight"]);
        Assert.Equal(new[] { 1536, 1536 }, ps["blocks.7.attn1.to_out.0.weight"]);
        Assert.Equal(new[] { 1536 }, ps["blocks.3.norm2.bias"]);
        Assert.Equal(new[] { 8960, 1536 }, ps["blocks.12.ffn.net.0.proj.weight"]);
        Assert.Equal(new[] { 1536, 8960 }, ps["blocks.12.ffn.net.2.weight"]);
        Assert.Equal(new[] { 64, 1536 }, ps["proj_out.weight"]);
        Assert.Equal(new[] { 1, 2, 1536 }, ps["scale_shift_table"]);
        Assert.DoesNotContain(ps.Keys, k => k.Contains("norm1") || k.Contains("norm3") || k.Contains("norm_out"));
        long total = ps.Values.Sum(s => s.Aggregate(1L, (a, b) => a * b));
        log.WriteLine($"1.3B parameters: {total:N0}");
        Assert.InRange(total, 1_300_000_000L, 1_500_000_000L);
        Assert.Equal(15 + 27 * 40, WanTransformer3D.ExpectedParameters(WanTransformerConfig.Wan21_14B).Count());
    }

    [Fact]
    public void Synthetic13BCheckpointWithAll825KeysLoadsStrictly()
    {
        // The real 1.3B layout: 825 BF16 tensors, 1.42B values, a 2.8 GB file written raw (no float model on the writing
        // side), then loaded strictly into a 5.7 GB float32 model. Values are random bf16 bit patterns in a sane range.
        var config = WanTransformerConfig.Wan21_1_3B;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var dir = new WanTestUtil.TempDir();
        var rng = new Rng(825);
        var entries = new List<SafeTensorsEntry>();
        var probes = new Dictionary<string, ushort>();
        foreach (var (name, shape) in WanTransformer3D.ExpectedParameters(config))
        {
            long n = 1;
            foreach (var d in shape) n *= d;
            var bytes = new byte[2 * n];
            for (long i = 0; i < n; i++)
            {
                // sign, exponent 2^-8..2^-1, 7 random mantissa bits: finite, never NaN
                uint r = rng.NextUInt32();
                ushort bits = (ushort)((r & 0x8000) | ((0x77 + (r >> 16) % 8) << 7) | (r & 0x7F));
                bytes[2 * i] = (byte)bits;
                bytes[2 * i + 1] = (byte)(bits >> 8);
            }
            probes[name] = (ushort)(bytes[bytes.Length - 2] | bytes[bytes.Length - 1] << 8);
            entries.Add(SafeTensorsEntry.FromBytes(name, DType.BF16, new Shape(shape), bytes));
        }
        Assert.Equal(825, entries.Count);
        config.Save(System.IO.Path.Combine(dir.Path, "config.json"));
        SafeTensorsWriter.Write(System.IO.Path.Combine(dir.Path, "diffusion_pytorch_model.safetensors"), entries);
        double writeS = sw.Elapsed.TotalSeconds;
        entries.Clear();

        var model = WanTransformer3D.Load(dir.Path, out var report);
        Assert.True(report.IsExact, report.ToString());
        Assert.Equal(1_418_996_800L, model.ParameterCount);
        var state = model.StateDict();
        foreach (var (name, bits) in probes)
            Assert.Equal(DTypeConvert.BFloat16BitsToFloat(bits), state[name].Span[^1]);
        log.WriteLine($"825-key 1.3B BF16 checkpoint: written in {writeS:F1} s, strict load + checks in {sw.Elapsed.TotalSeconds - writeS:F1} s");
    }

    [Fact]
    public void FullWidthOneLayer13BRoundTripsThroughBf16()
    {
        // The 1.3B widths (text 4096, D 1536, FFN 8960) with one block: ~72M floats, a 144 MB BF16 file.
        var config = WanTransformerConfig.Wan21_1_3B with { NumLayers = 1 };
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var model = new WanTransformer3D(config, new Rng(3));
        using var dir = new WanTestUtil.TempDir();
        model.Save(dir.Path, DType.BF16);
        var loaded = WanTransformer3D.Load(dir.Path);
        Assert.Equal(config, loaded.Config);
        var expected = WanTransformer3D.ExpectedParameters(config).Select(p => (p.Name, string.Join(",", p.Shape))).ToList();
        Assert.Equal(expected, loaded.NamedParameters().Select(p => (p.Key, string.Join(",", p.Value.Shape.ToArray()))).ToList());
        var own = loaded.StateDict();
        foreach (var (name, src) in model.NamedParameters())
        {
            var a = src.Span;
            var b = own[name].Span;
            for (int i = 0; i < a.Length; i++)
                if (RoundToBf16(a[i]) != b[i]) Assert.Fail($"{name}[{i}]: loaded {b[i]}, expected bf16({a[i]}) = {RoundToBf16(a[i])}");
        }
        log.WriteLine($"1-layer 1.3B: {model.ParameterCount:N0} floats, save + strict load + compare in {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void MissingKeyAndWrongShapeAreListedByName()
    {
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(1));
        using var dir = new WanTestUtil.TempDir();
        model.Save(dir.Path);
        var weights = Path.Combine(dir.Path, WanTransformer3D.WeightsBaseName + ".safetensors");
        var tensors = model.NamedParameters().Where(p => p.Key != "blocks.1.attn2.norm_k.weight")
            .Select(p => p.Key == "proj_out.bias" ? (p.Key, Tensor.Zeros(15)) : (p.Key, p.Value)).ToList();
        tensors.Add(("blocks.2.attn1.to_q.weight", Tensor.Zeros(24, 24)));
        SafeTensorsWriter.Write(weights, tensors);

        var e = Assert.Throws<StateDictMismatchException>(() => WanTransformer3D.Load(dir.Path));
        Assert.Contains("blocks.1.attn2.norm_k.weight", e.Message);
        Assert.Contains("proj_out.bias", e.Message);
        Assert.Contains("blocks.2.attn1.to_q.weight", e.Message);
        Assert.Equal(new[] { "blocks.1.attn2.norm_k.weight" }, e.Report.Missing);
        Assert.Equal(new[] { "blocks.2.attn1.to_q.weight" }, e.Report.Unexpected);
        Assert.Single(e.Report.ShapeMismatches);
        Assert.Contains("[15]", e.Report.ShapeMismatches[0]);

        // Non-strict: everything that matches is loaded, and the report says what did not.
        var partial = WanTransformer3D.Load(dir.Path, out var report, strict: false);
        Assert.False(report.IsExact);
        Assert.Equal(model.Blocks[0].Attn1.ToQ.Weight.ToArray(), partial.Blocks[0].Attn1.ToQ.Weight.ToArray());
    }

    [Fact]
    public void LoadsFromPipelineFolderWeightsFileAndShardedIndex()
    {
        var model = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(2));
        using var root = new WanTestUtil.TempDir();
        string transformer = Path.Combine(root.Path, "transformer");
        model.Save(transformer);
        string sharded = Path.Combine(root.Path, "sharded");
        model.Save(sharded, DType.F32, maxShardBytes: 40_000);
        Assert.True(Directory.GetFiles(sharded, "*.safetensors").Length > 1);

        var rng = new Rng(9);
        var latent = Tensor.Randn(rng, 1, 4, 2, 2, 4);
        var t = Tensor.FromArray(new[] { 700f }, 1);
        var text = Tensor.Randn(rng, 1, 3, 16);
        using var _ = GradMode.NoGrad();
        var expected = model.Forward(latent, t, text).ToArray();
        foreach (var path in new[]
                 {
                     root.Path, transformer, Path.Combine(transformer, "diffusion_pytorch_model.safetensors"),
                     Path.Combine(transformer, "config.json"), sharded, Path.Combine(sharded, "diffusion_pytorch_model.safetensors.index.json"),
                 })
            Assert.Equal(expected, WanTransformer3D.Load(path).Forward(latent, t, text).ToArray());

        var e = Assert.Throws<FileNotFoundException>(() => WanTransformer3D.Load(Path.Combine(root.Path, "nowhere")));
        Assert.Contains("nowhere", e.Message);
        File.Delete(Path.Combine(transformer, "config.json"));
        e = Assert.Throws<FileNotFoundException>(() => WanTransformer3D.Load(transformer));
        Assert.Contains("config.json", e.Message);
    }

    private static float RoundToBf16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
        return BitConverter.UInt32BitsToSingle(bits);
    }
}

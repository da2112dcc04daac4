using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Wan;

/// <summary>
/// The Wan2.1 text-to-video transformer (diffusers' <c>WanTransformer3DModel</c>) at any size: patchify a latent video,
/// run <see cref="WanTransformerConfig.NumLayers"/> blocks of modulated self-attention (3-D RoPE), cross-attention to the
/// text and a gated FFN, then project each token back to a patch of velocity. Parameter names are diffusers' own
/// (<c>blocks.3.attn1.to_q.weight</c>, ...), so a diffusers checkpoint loads by name (<see cref="Load(string, bool)"/>).
/// </summary>
/// <remarks>
/// Memory: under <see cref="GradMode.NoGrad"/> each block (and within it each residual section) runs in its own
/// <see cref="TensorScope"/> and only its output survives, so a forward pass holds the weights, the conditioning and one
/// section's activations whatever the depth (about 200 MiB for the 1.3B model at 1,280 tokens). With gradients on,
/// set <see cref="GradientCheckpointing"/> to keep only each block's input and recompute the block during backward
/// (what guidance needs to differentiate through 30 layers with respect to the latent).
/// </remarks>
public sealed partial class WanTransformer3D : Module, IVelocityModel
{
    /// <summary>Builds a model with PyTorch-default random weights drawn from <paramref name="rng"/> (a fixed seed when null).</summary>
    public WanTransformer3D(WanTransformerConfig config, Rng? rng = null) : this(config, rng ?? new Rng(0), true) { }

    /// <summary>rng null: parameters zero (norm weights one), nothing drawn (see <see cref="CreateEmpty"/>).</summary>
    private WanTransformer3D(WanTransformerConfig config, Rng? rng, bool _)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        int d = config.Width;
        var (pt, ph, pw) = config.PatchSize;
        // Registration order gives the state-dict order: own parameter first, then children (see ExpectedParameters).
        ScaleShiftTable = Parameter("scale_shift_table", Init.Normal(rng, 1f / MathF.Sqrt(d), 1, 2, d));
        PatchEmbedding = Child("patch_embedding", new Conv3d(config.InChannels, d, new[] { pt, ph, pw }, rng, stride: new[] { pt, ph, pw }));
        ConditionEmbedder = Child("condition_embedder", new WanConditionEmbedder(config, rng));
        Blocks = Child("blocks", new ModuleList<WanTransformerBlock>(
            Enumerable.Range(0, config.NumLayers).Select(_ => new WanTransformerBlock(config, rng))));
        ProjOut = Child("proj_out", new Linear(d, config.OutProjDim, true, rng));
        if (config.PositionFrequencies > 0)
        {
            PositionEmbedding = Child(PositionEmbeddingName, new Linear(config.PositionFeatureDim, d, false, null));
            PositionEmbedding.Weight.Span.Clear(); // zero: a model gains it without changing its output
        }
    }

    /// <summary>Module name of <see cref="PositionEmbedding"/> (its one key is <c>flowguide_position_embedding.weight</c>).</summary>
    public const string PositionEmbeddingName = "flowguide_position_embedding";

    /// <summary>
    /// A model whose parameters are zero (norm weights one), built without drawing random numbers: the placeholder
    /// <see cref="Load(string, bool)"/> fills (random initialisation of the 1.3B model costs tens of seconds).
    /// </summary>
    public static WanTransformer3D CreateEmpty(WanTransformerConfig config) => new(config, null, true);

    public WanTransformerConfig Config { get; }

    /// <summary>Output modulation table [1, 2, D] (shift, scale), added to the raw time embedding.</summary>
    public Tensor ScaleShiftTable { get; }
    public Conv3d PatchEmbedding { get; }
    public WanConditionEmbedder ConditionEmbedder { get; }
    public ModuleList<WanTransformerBlock> Blocks { get; }
    public Linear ProjOut { get; }

    /// <summary>The absolute-position projection [D, 6K] (<see cref="WanTransformerConfig.PositionFrequencies"/>); null when off.</summary>
    public Linear? PositionEmbedding { get; }

    /// <summary>
    /// When true and gradients are being recorded, each block runs under <see cref="Checkpoint.Run"/>: its activations are
    /// dropped after the forward pass and recomputed during backward. Gradients still reach the latent, the text
    /// context, the timestep projection and (unless frozen) the block's parameters. No effect under no-grad.
    /// Shorthand for <see cref="CheckpointBlocks"/>: true sets every block, false none; reads true when any block is.
    /// </summary>
    public bool GradientCheckpointing
    {
        get => CheckpointBlocks > 0;
        set => CheckpointBlocks = value ? int.MaxValue : 0;
    }

    /// <summary>
    /// How many blocks, counted from the first, run checkpointed when gradients are being recorded (0: none; the block
    /// count or more: all). Each checkpointed block trades its taped activations for one more forward of it in backward,
    /// so this sets the memory/time balance of a differentiated call. Gradients are the same for every value.
    /// </summary>
    public int CheckpointBlocks
    {
        get => _checkpointBlocks;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "WanTransformer3D.CheckpointBlocks: must be non-negative.");
            _checkpointBlocks = value;
        }
    }

    private int _checkpointBlocks;

    /// <summary>
    /// The velocity for a latent video. <paramref name="latent"/> [B, C_in, F, H, W] with F, H, W divisible by the patch
    /// size; <paramref name="timestep"/> [B] (or [1], shared) holding sigma x 1000 as floats; <paramref name="textContext"/>
    /// [B, Lt, textDim] (Wan pads the prompt to 512 rows of zeros; no mask). Returns [B, C_out, F, H, W].
    /// Differentiable in the latent, the text context and the parameters; the timestep is a constant.
    /// </summary>
    public Tensor Forward(Tensor latent, Tensor timestep, Tensor textContext)
    {
        var (f, h, w) = CheckInputs(latent, timestep, textContext);
        if (GradMode.IsEnabled) return ForwardCore(latent, timestep, textContext, f, h, w);
        using var scope = new TensorScope(); // no-grad: everything but the output goes back to the pool
        return scope.Keep(ForwardCore(latent, timestep, textContext, f, h, w));
    }

    private Tensor ForwardCore(Tensor latent, Tensor timestep, Tensor textContext, int f, int h, int w)
    {
        var c = Config;
        int b = latent.Size(0), d = c.Width, tokens = f * h * w;
        bool noGrad = !GradMode.IsEnabled;

        // 1. patch embedding: [B, C, F, H, W] -> [B, D, F', H', W'] -> tokens in (frame, row, column) order
        var x = PatchEmbedding.Forward(latent); // [B, D, F', H', W']
        x = Ops.Permute(Ops.Reshape(x, b, d, tokens), 0, 2, 1); // [B, F'*H'*W', D]
        if (PositionEmbedding is not null)
            x = Ops.Add(x, PositionEmbedding.Forward(PositionFeatures(f, h, w, c.PositionFrequencies))); // + [L, D]

        // 2. conditioning: time embedding, block modulation, projected text
        var (temb, timestepProj, context) = ConditionEmbedder.Forward(timestep, textContext); // [B, D], [B, 6, D], [B, Lt, D]

        // 3. rotary tables for the patch grid
        var rope = Ops.RopeFrequencies(f, h, w, c.HeadDim); // cos, sin [F'*H'*W', HeadDim/2]

        // 4. transformer blocks
        for (int i = 0; i < Blocks.Count; i++)
        {
            var block = Blocks[i];
            Tensor y = i < CheckpointBlocks && !noGrad
                ? Checkpoint.Run(ins => RunBlock(block, ins[0], ins[1], ins[2], rope), new[] { x, timestepProj, context }, block.Parameters().ToList())
                : RunBlock(block, x, timestepProj, context, rope);
            if (noGrad) x.Dispose(); // the previous activations are ours and no backward needs them
            x = y; // [B, L, D]
        }

        // 5. output norm and modulation: (shift, scale) = scale_shift_table [1, 2, D] + temb [B, 1, D]
        var mod = Ops.Chunk(Ops.Add(ScaleShiftTable, Ops.Unsqueeze(temb, 1)), 2, 1); // two [B, 1, D]
        x = WanTransformerBlock.Modulate(Ops.LayerNorm(x, d, null, null, c.Eps), mod[0], mod[1]);
        x = ProjOut.Forward(x); // [B, L, pt*ph*pw*C_out], channel fastest

        // 6. unpatchify: [B, F', H', W', pt, ph, pw, C] -> [B, C, F', pt, H', ph, W', pw] -> [B, C, F, H, W]
        var (pt, ph, pw) = c.PatchSize;
        x = Ops.Reshape(x, b, f, h, w, pt, ph, pw, c.OutChannels); // [B, F', H', W', pt, ph, pw, C]
        x = Ops.Permute(x, 0, 7, 1, 4, 2, 5, 3, 6); // [B, C, F', pt, H', ph, W', pw]
        return Ops.Reshape(x, b, c.OutChannels, f * pt, h * ph, w * pw); // [B, C, F, H, W]
    }

    /// <summary>
    /// The constant features of <see cref="WanTransformerConfig.PositionFrequencies"/>: [F'·H'·W', 6K] in token order,
    /// per axis sin(pi k u) for k = 1..K then cos(pi k u), u = index / (count - 1) (0 on an axis of one), axes frame, row, column.
    /// </summary>
    public static Tensor PositionFeatures(int f, int h, int w, int frequencies)
    {
        if (f <= 0 || h <= 0 || w <= 0 || frequencies <= 0)
            throw new ArgumentException($"WanTransformer3D.PositionFeatures: grid ({f}, {h}, {w}) and frequencies {frequencies} must be positive.");
        int k = frequencies, dim = 6 * k;
        var data = new float[f * h * w * dim];
        static double U(int i, int n) => n == 1 ? 0 : (double)i / (n - 1);
        int row = 0;
        for (int a = 0; a < f; a++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++, row++)
                {
                    int o = row * dim;
                    foreach (double ui in new[] { U(a, f), U(y, h), U(x, w) })
                    {
                        for (int j = 1; j <= k; j++)
                        {
                            var (s, cs) = DeterministicMath.SinCos(Math.PI * j * ui);
                            data[o + j - 1] = (float)s;
                            data[o + k + j - 1] = (float)cs;
                        }
                        o += 2 * k;
                    }
                }
        return Tensor.FromArray(data, f * h * w, dim);
    }

    /// <summary>One block; under no-grad inside its own scope so only the output outlives it.</summary>
    private static Tensor RunBlock(WanTransformerBlock block, Tensor x, Tensor timestepProj, Tensor context, (Tensor Cos, Tensor Sin) rope)
    {
        if (GradMode.IsEnabled) return block.Forward(x, timestepProj, context, rope);
        using var scope = new TensorScope();
        return scope.Keep(block.Forward(x, timestepProj, context, rope));
    }

    /// <summary>Validates the forward inputs and returns the patch grid (F', H', W').</summary>
    private (int F, int H, int W) CheckInputs(Tensor latent, Tensor timestep, Tensor text)
    {
        var c = Config;
        var (pt, ph, pw) = c.PatchSize;
        if (latent.Rank != 5 || latent.Size(1) != c.InChannels)
            throw new ArgumentException($"WanTransformer3D: latent must be [B, {c.InChannels}, F, H, W], got {latent.Shape}.");
        int b = latent.Size(0), f = latent.Size(2), h = latent.Size(3), w = latent.Size(4);
        if (f % pt != 0 || h % ph != 0 || w % pw != 0 || f == 0 || h == 0 || w == 0)
            throw new ArgumentException($"WanTransformer3D: latent {latent.Shape} has frames/height/width not divisible by the patch size {c.PatchSize}.");
        var grid = (F: f / pt, H: h / ph, W: w / pw);
        if (grid.F > c.RopeMaxSeqLen || grid.H > c.RopeMaxSeqLen || grid.W > c.RopeMaxSeqLen)
            throw new ArgumentException($"WanTransformer3D: patch grid {grid} of latent {latent.Shape} exceeds rope_max_seq_len {c.RopeMaxSeqLen} along an axis.");
        if (timestep.Rank != 1 || (timestep.Size(0) != b && timestep.Size(0) != 1))
            throw new ArgumentException($"WanTransformer3D: timestep must be [{b}] or [1] (sigma x 1000 per sample), got {timestep.Shape}.");
        if (text.Rank != 3 || text.Size(0) != b || text.Size(2) != c.TextDim || text.Size(1) == 0)
            throw new ArgumentException($"WanTransformer3D: text context must be [{b}, Lt, {c.TextDim}] with Lt > 0, got {text.Shape}.");
        return grid;
    }

    /// <summary>
    /// The (name, shape) of every parameter a model of <paramref name="config"/> has, in <see cref="Module.NamedParameters"/>
    /// order, without allocating the model: 825 entries for the 1.3B config (15 outside the blocks + 27 per block).
    /// </summary>
    public static IEnumerable<(string Name, int[] Shape)> ExpectedParameters(WanTransformerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        int d = config.Width;
        var (pt, ph, pw) = config.PatchSize;
        IEnumerable<(string, int[])> Linear(string name, int i, int o) => new[] { (name + ".weight", new[] { o, i }), (name + ".bias", new[] { o }) };

        yield return ("scale_shift_table", new[] { 1, 2, d });
        yield return ("patch_embedding.weight", new[] { d, config.InChannels, pt, ph, pw });
        yield return ("patch_embedding.bias", new[] { d });
        foreach (var p in Linear("condition_embedder.time_embedder.linear_1", config.FreqDim, d)) yield return p;
        foreach (var p in Linear("condition_embedder.time_embedder.linear_2", d, d)) yield return p;
        foreach (var p in Linear("condition_embedder.time_proj", d, 6 * d)) yield return p;
        foreach (var p in Linear("condition_embedder.text_embedder.linear_1", config.TextDim, d)) yield return p;
        foreach (var p in Linear("condition_embedder.text_embedder.linear_2", d, d)) yield return p;
        for (int i = 0; i < config.NumLayers; i++)
        {
            string blk = $"blocks.{i}.";
            yield return (blk + "scale_shift_table", new[] { 1, 6, d });
            foreach (var attn in new[] { "attn1", "attn2" })
            {
                foreach (var proj in new[] { "to_q", "to_k", "to_v", "to_out.0" })
                    foreach (var p in Linear($"{blk}{attn}.{proj}", d, d)) yield return p;
                if (config.QkNorm is not null)
                {
                    yield return ($"{blk}{attn}.norm_q.weight", new[] { d });
                    yield return ($"{blk}{attn}.norm_k.weight", new[] { d });
                }
            }
            if (config.CrossAttnNorm)
            {
                yield return (blk + "norm2.weight", new[] { d });
                yield return (blk + "norm2.bias", new[] { d });
            }
            foreach (var p in Linear(blk + "ffn.net.0.proj", d, config.FfnDim)) yield return p;
            foreach (var p in Linear(blk + "ffn.net.2", config.FfnDim, d)) yield return p;
        }
        foreach (var p in Linear("proj_out", d, config.OutProjDim)) yield return p;
        if (config.PositionFrequencies > 0) yield return (PositionEmbeddingName + ".weight", new[] { d, config.PositionFeatureDim });
    }
}

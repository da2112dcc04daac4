using FlowGuide.Nn;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// Three stride-2 stages (7x7 then 3x3 convolutions with ReLU) to 1/8 resolution, a 3x3 refinement, and a 1x1
/// projection to the requested output channels. Used both as feature encoder (fnet) and context encoder (cnet).
/// </summary>
public sealed class RaftEncoder : Module
{
    private readonly Conv2d _conv1, _conv2, _conv3, _conv4, _out;
    private readonly bool _norm;

    /// <summary>
    /// With <paramref name="instanceNorm"/>, parameter-free instance normalisation (per sample and channel over H x W)
    /// follows every stage and the output, as in RAFT's feature encoder: it keeps the matching features O(1) from
    /// initialisation on, so the correlation carries a signal the update block can learn from.
    /// </summary>
    public RaftEncoder(int[] channels, int outDim, Rng rng, bool instanceNorm = false)
    {
        _norm = instanceNorm;
        _conv1 = Child("conv1", new Conv2d(3, channels[0], 7, rng, stride: 2, padding: 3));
        _conv2 = Child("conv2", new Conv2d(channels[0], channels[1], 3, rng, stride: 2, padding: 1));
        _conv3 = Child("conv3", new Conv2d(channels[1], channels[2], 3, rng, stride: 2, padding: 1));
        _conv4 = Child("conv4", new Conv2d(channels[2], channels[2], 3, rng, padding: 1));
        _out = Child("out", new Conv2d(channels[2], outDim, 1, rng));
    }

    /// <summary>[N, 3, H, W] to [N, outDim, H/8, W/8].</summary>
    public Tensor Forward(Tensor x)
    {
        x = Norm(_conv1.Forward(x)).Relu();        // [N, c0, H/2, W/2]
        x = Norm(_conv2.Forward(x)).Relu();        // [N, c1, H/4, W/4]
        x = Norm(_conv3.Forward(x)).Relu();        // [N, c2, H/8, W/8]
        x = x.Add(Norm(_conv4.Forward(x)).Relu()); // residual refinement
        return Norm(_out.Forward(x));
    }

    private Tensor Norm(Tensor x) => _norm ? x.LayerNorm(new[] { x.Size(2), x.Size(3) }) : x;
}

/// <summary>Encodes the looked-up correlation and the current flow into <c>MotionDim</c> channels (the last two are the flow itself).</summary>
public sealed class RaftMotionEncoder : Module
{
    private readonly Conv2d _convc1, _convc2, _convf1, _convf2, _conv;

    public RaftMotionEncoder(RaftSmallConfig c, Rng rng)
    {
        int cc = Math.Max(8, c.MotionDim), fc = Math.Max(4, c.MotionDim / 4);
        _convc1 = Child("convc1", new Conv2d(c.CorrChannels, cc, 1, rng));
        _convc2 = Child("convc2", new Conv2d(cc, cc * 3 / 4, 3, rng, padding: 1));
        _convf1 = Child("convf1", new Conv2d(2, fc * 2, 7, rng, padding: 3));
        _convf2 = Child("convf2", new Conv2d(fc * 2, fc, 3, rng, padding: 1));
        _conv = Child("conv", new Conv2d(cc * 3 / 4 + fc, c.MotionDim - 2, 3, rng, padding: 1));
    }

    public Tensor Forward(Tensor corr, Tensor flow)
    {
        var c = _convc2.Forward(_convc1.Forward(corr).Relu()).Relu();
        var f = _convf2.Forward(_convf1.Forward(flow).Relu()).Relu();
        var m = _conv.Forward(Ops.Concat(new[] { c, f }, 1)).Relu();
        return Ops.Concat(new[] { m, flow }, 1); // [N, MotionDim, h, w]
    }
}

/// <summary>
/// Convolutional GRU: z, r gates and candidate from 3x3 convolutions of [h, x]. In RAFT x is [context, motion] and
/// the context does not change across iterations, so <see cref="Prepare"/> convolves it once (the convolutions are
/// linear in each channel group) and <see cref="Step"/> convolves only [h, motion], with z and r in one convolution.
/// </summary>
public sealed class ConvGru : Module
{
    private readonly Conv2d _convz, _convr, _convq;
    private readonly int _hidden;

    public ConvGru(int hidden, int input, Rng rng)
    {
        _hidden = hidden;
        _convz = Child("convz", new Conv2d(hidden + input, hidden, 3, rng, padding: 1));
        _convr = Child("convr", new Conv2d(hidden + input, hidden, 3, rng, padding: 1));
        _convq = Child("convq", new Conv2d(hidden + input, hidden, 3, rng, padding: 1));
    }

    /// <summary>h' = (1 - z) h + z tanh(convq([r h, x])).</summary>
    public Tensor Forward(Tensor h, Tensor x)
    {
        var hx = Ops.Concat(new[] { h, x }, 1);
        var z = _convz.Forward(hx).Sigmoid();
        var r = _convr.Forward(hx).Sigmoid();
        var q = _convq.Forward(Ops.Concat(new[] { r.Mul(h), x }, 1)).Tanh();
        return h.Add(z.Mul(q.Sub(h)));
    }

    /// <summary>
    /// What stays fixed while the input is [<paramref name="constant"/>, varying] over several steps: the gate and
    /// candidate pre-activations of the constant channels (biases included) and the weights restricted to [h, varying].
    /// </summary>
    public GruPrepared Prepare(Tensor constant)
    {
        int hd = _hidden, cc = constant.Size(1), vc = _convz.Weight.Size(1) - hd - cc;
        if (vc < 0) throw new ArgumentException($"ConvGru.Prepare: {cc} constant channels exceed the {_convz.Weight.Size(1) - hd} input channels.");
        Tensor H(Conv2d c) => c.Weight.Narrow(1, 0, hd);      // [hd, hd, 3, 3]
        Tensor C(Conv2d c) => c.Weight.Narrow(1, hd, cc);     // [hd, cc, 3, 3]
        Tensor V(Conv2d c) => c.Weight.Narrow(1, hd + cc, vc); // [hd, vc, 3, 3]
        var zrWeight = Ops.Concat(new[] { Ops.Concat(new[] { H(_convz), V(_convz) }, 1), Ops.Concat(new[] { H(_convr), V(_convr) }, 1) }, 0); // [2 hd, hd + vc, 3, 3]
        var zrConstant = constant.Conv2d(Ops.Concat(new[] { C(_convz), C(_convr) }, 0), Ops.Concat(new[] { _convz.Bias!, _convr.Bias! }, 0), padding: 1); // [N, 2 hd, h, w]
        var qWeight = Ops.Concat(new[] { H(_convq), V(_convq) }, 1);                                    // [hd, hd + vc, 3, 3]
        var qConstant = constant.Conv2d(C(_convq), _convq.Bias, padding: 1);                              // [N, hd, h, w]
        return new GruPrepared(zrWeight, zrConstant, qWeight, qConstant);
    }

    /// <summary><see cref="Forward"/> of [constant, <paramref name="varying"/>] with the constant part from <see cref="Prepare"/>.</summary>
    public Tensor Step(GruPrepared prepared, Tensor h, Tensor varying)
    {
        var zr = Ops.Concat(new[] { h, varying }, 1).Conv2d(prepared.ZrWeight, null, padding: 1).Add(prepared.ZrConstant).Sigmoid(); // [N, 2 hd, h, w]
        var z = zr.Narrow(1, 0, _hidden);
        var r = zr.Narrow(1, _hidden, _hidden);
        var q = Ops.Concat(new[] { r.Mul(h), varying }, 1).Conv2d(prepared.QWeight, null, padding: 1).Add(prepared.QConstant).Tanh();
        return h.Add(z.Mul(q.Sub(h)));
    }
}

/// <summary><see cref="ConvGru.Prepare"/>'s result: fused z/r weights and the constant input's pre-activations.</summary>
public sealed record GruPrepared(Tensor ZrWeight, Tensor ZrConstant, Tensor QWeight, Tensor QConstant);

/// <summary>Two 3x3 convolutions with a ReLU between: the flow head (2 outputs) and the upsampling-mask head (9 x 64 outputs).</summary>
public sealed class RaftHead : Module
{
    private readonly Conv2d _conv1, _conv2;

    public RaftHead(int input, int hidden, int output, int secondKernel, Rng rng)
    {
        _conv1 = Child("conv1", new Conv2d(input, hidden, 3, rng, padding: 1));
        _conv2 = Child("conv2", new Conv2d(hidden, output, secondKernel, rng, padding: secondKernel / 2));
    }

    public Tensor Forward(Tensor x) => _conv2.Forward(_conv1.Forward(x).Relu());
}

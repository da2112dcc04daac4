using FlowGuide.Tensors.Kernels;

namespace FlowGuide.Tensors;

/// <summary>How <see cref="Ops.Pad"/> fills positions outside the input.</summary>
public enum PadMode
{
    /// <summary>A fixed value (torch mode='constant').</summary>
    Constant,
    /// <summary>The nearest edge element: a b c | c c (torch mode='replicate').</summary>
    Replicate,
    /// <summary>Mirror without repeating the edge: a b c | b a (torch mode='reflect'); each pad must be smaller than its axis.</summary>
    Reflect,
}

public static partial class Ops
{
    /// <summary>
    /// Pads (or, with negative amounts, crops) every axis: <paramref name="pads"/>[i] = (Before, After) applies to axis i
    /// counted from the FIRST axis, and pads.Length must equal the rank (use (0, 0) for untouched axes). See
    /// <see cref="PadLast(Tensor, int[])"/> for torch.nn.functional.pad's last-axis-first order. Reflect needs every pad
    /// smaller than its axis; Replicate and Reflect need a non-empty axis wherever they pad. The backward pass adds each
    /// output gradient into the input element it was copied from (edges collect several under Replicate/Reflect).
    /// </summary>
    public static Tensor Pad(this Tensor x, (int Before, int After)[] pads, PadMode mode = PadMode.Constant, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(pads);
        if (pads.Length != x.Rank)
            throw new ArgumentException($"Pad: {pads.Length} (before, after) pairs for a rank-{x.Rank} tensor {x.Shape}; expected exactly {x.Rank}, one per axis from the first (PadLast takes torch's last-axis-first order).");
        var inDims = x.Shape.ToArray();
        var outDims = new int[x.Rank];
        var maps = new int[]?[x.Rank];
        bool any = false;
        for (int d = 0; d < x.Rank; d++)
        {
            maps[d] = PadMap(x.Shape, d, pads[d].Before, pads[d].After, mode, out outDims[d]);
            any |= maps[d] is not null;
        }
        if (!any) return x;
        var o = Tensor.Empty(Shape.Wrap(outDims));
        IndexingKernels.PadGather(x.Span, inDims, maps, o.Span, outDims, pads[x.Rank - 1].Before, value);
        return Autograd.Record(o, "Pad", (g, _) =>
        {
            // Pad is a separable gather, so its adjoint is one scatter-add per padded axis.
            var cur = g;
            var dims = (int[])outDims.Clone();
            for (int d = x.Rank - 1; d >= 0; d--)
            {
                if (maps[d] is not { } map) continue;
                dims[d] = inDims[d];
                var next = Tensor.Zeros(Shape.Wrap((int[])dims.Clone()));
                int outer = 1, inner = 1;
                for (int k = 0; k < d; k++) outer *= dims[k];
                for (int k = d + 1; k < dims.Length; k++) inner *= dims[k];
                IndexingKernels.AxisScatterAdd(cur.Span, outer, inner, map, next.Span, inDims[d]);
                cur = next;
            }
            return new[] { cur };
        }, x);
    }

    /// <summary>
    /// Pad in torch.nn.functional.pad order: (lastBefore, lastAfter, secondLastBefore, secondLastAfter, ...), an even
    /// number of values covering the last torchStyle.Length / 2 axes; constant zero fill. Negative values crop.
    /// </summary>
    public static Tensor PadLast(this Tensor x, params int[] torchStyle) => PadLast(x, torchStyle, PadMode.Constant);

    /// <summary>Pad in torch.nn.functional.pad order (last axis first, pairs) with the given mode and constant value.</summary>
    public static Tensor PadLast(this Tensor x, int[] torchStyle, PadMode mode, float value = 0f)
    {
        ArgumentNullException.ThrowIfNull(torchStyle);
        if (torchStyle.Length % 2 != 0 || torchStyle.Length / 2 > x.Rank)
            throw new ArgumentException($"PadLast: {torchStyle.Length} values for a rank-{x.Rank} tensor {x.Shape}; expected an even number, at most {2 * x.Rank} (pairs for the last axes, last axis first).");
        var pads = new (int Before, int After)[x.Rank];
        for (int k = 0; k < torchStyle.Length / 2; k++)
            pads[x.Rank - 1 - k] = (torchStyle[2 * k], torchStyle[2 * k + 1]);
        return Pad(x, pads, mode, value);
    }

    /// <summary>Index map of one axis (output position -> input position, -1 for constant fill); null when untouched.</summary>
    private static int[]? PadMap(Shape s, int axis, int before, int after, PadMode mode, out int outSize)
    {
        int size = s.Dims[axis];
        outSize = size + before + after;
        if (before == 0 && after == 0) return null;
        if (outSize < 0)
            throw new ArgumentException($"Pad: pads ({before}, {after}) on axis {axis} of size {size} in {s} crop more than the axis holds.");
        bool pads = before > 0 || after > 0;
        if (mode == PadMode.Reflect && (before >= size || after >= size))
            throw new ArgumentException($"Pad: reflect padding ({before}, {after}) on axis {axis} of {s} must be smaller than the axis size {size}.");
        if (mode == PadMode.Replicate && pads && size == 0)
            throw new ArgumentException($"Pad: replicate padding on axis {axis} of {s} has no element to replicate.");
        var map = new int[outSize];
        for (int j = 0; j < outSize; j++)
        {
            int i = j - before;
            if (i < 0 || i >= size)
            {
                i = mode switch
                {
                    PadMode.Constant => -1,
                    PadMode.Replicate => i < 0 ? 0 : size - 1,
                    _ => i < 0 ? -i : 2 * (size - 1) - i,
                };
            }
            map[j] = i;
        }
        return map;
    }
}

namespace FlowGuide.Tensors;

/// <summary>
/// Computes the gradients of an op's inputs from the gradient of its output. <paramref name="needsGrad"/>[i] is false
/// when input i's gradient would be thrown away (a frozen weight, a constant), so the op can skip that work.
/// A returned gradient may have the broadcast output shape; the engine sums it back to the input's shape.
/// </summary>
public delegate Tensor?[] BackwardFn(Tensor gradOutput, bool[] needsGrad);

/// <summary>One recorded op on the tape: its inputs and how to push a gradient back to them.</summary>
public sealed class Node
{
    internal Node(string op, Tensor[] inputs, BackwardFn backward)
    {
        Op = op;
        Inputs = inputs;
        Backward = backward;
    }

    /// <summary>Name of the op that produced the tensor (for error messages and debugging).</summary>
    public string Op { get; }

    internal Tensor[] Inputs { get; private set; }

    internal BackwardFn? Backward { get; private set; }

    internal bool Released => Backward is null;

    /// <summary>Drops the saved tensors so their memory can be reclaimed after a backward pass.</summary>
    internal void Release()
    {
        Backward = null;
        Inputs = System.Array.Empty<Tensor>();
    }
}

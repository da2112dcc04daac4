namespace FlowGuide.Nn;

/// <summary>An indexed list of child modules named "0", "1", ... (as in <c>blocks.3.</c> or <c>ffn.net.0.proj</c>).</summary>
public sealed class ModuleList<T> : Module where T : Module
{
    private readonly List<T> _items = new();

    public ModuleList(IEnumerable<T> items)
    {
        foreach (var m in items) Add(m);
    }

    public T Add(T module)
    {
        _items.Add(Child(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));
        return module;
    }

    public int Count => _items.Count;

    public T this[int index] => _items[index];

    public IEnumerable<T> Items => _items;
}

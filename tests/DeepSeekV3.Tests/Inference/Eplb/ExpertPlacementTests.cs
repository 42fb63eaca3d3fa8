using DeepSeekV3.Inference.Eplb;

namespace DeepSeekV3.Tests.Inference.Eplb;

public class ExpertPlacementTests
{
    [Fact]
    public void Identity_places_each_expert_once_in_order_over_the_ranks()
    {
        var placement = ExpertPlacement.Identity(layers: 2, experts: 8, ranks: 4);

        Assert.Equal((2, 8, 8, 2), (placement.Layers, placement.PhysicalExperts, placement.LogicalExperts, placement.SlotsPerRank));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], placement.Phy2Log[1]);
        Assert.All(placement.LogCnt[1], count => Assert.Equal(1, count));
        Assert.Equal([5], placement.Log2Phy[1][5]);
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3], Enumerable.Range(0, 8).Select(placement.RankOfSlot));
        // Rank loads [1+2, 3+4, 5+6, 7+8] = [3, 7, 11, 15]: mean 9 over max 15; a layer without load is balanced.
        Assert.Equal([0.6, 1.0], placement.Balancedness([[1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 0]]));
    }

    [Fact]
    public void Identity_refuses_experts_that_do_not_divide_over_the_ranks()
    {
        var error = Assert.Throws<InvalidArgumentException>(() => ExpertPlacement.Identity(1, 12, 8));
        Assert.Contains("experts 12 must be a multiple of ranks 8", error.Message);
    }

    [Theory]
    [InlineData("[[1, 2, 3], [4, 5]]", "layer 1 has 2 experts, layer 0 has 3")]
    [InlineData("[[1, -2, 3]]", "layer 0, expert 1: load -2 must be a non-negative")]
    [InlineData("[[1, 2, 3e39]]", "layer 0, expert 2: load 3E+39 must be a non-negative float32 number")]
    [InlineData("[[1, \"2\"]]", "layer 0, expert 1: expected a number, found String")]
    [InlineData("[1, 2]", "layer 0: expected an array of expert loads, found Number")]
    [InlineData("{\"loads\": []}", "expected a JSON array of layers")]
    [InlineData("[]", "no layers")]
    [InlineData("[[]]", "layer 0 has no experts")]
    [InlineData("[[1, 2,", "not valid JSON")]
    public void Malformed_expert_loads_are_refused_naming_the_place(string json, string message)
    {
        var error = Assert.Throws<InvalidArgumentException>(() => ExpertLoads.Parse(json, "loads.json"));
        Assert.StartsWith("loads.json: ", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Balancedness_needs_loads_of_the_placements_shape()
    {
        var placement = ExpertPlacement.Identity(layers: 1, experts: 4, ranks: 2);
        Assert.Contains("4 experts", Assert.Throws<InvalidArgumentException>(() => placement.Balancedness([[1, 2, 3]])).Message);
        Assert.Contains("1 layers", Assert.Throws<InvalidArgumentException>(() => placement.Balancedness([[1, 2, 3, 4], [1, 2, 3, 4]])).Message);
    }
}

using DeepSeekV3.Configuration;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Tests.Distributed.Pipeline;

public class StageLayoutTests
{
    [Fact]
    public void DualPipe_rank_r_holds_stage_r_for_a_and_its_mirror_for_b()
    {
        var layout = new StageLayout(ScheduleKind.DualPipe, 8);
        Assert.Equal(8, layout.Stages);
        Assert.Equal(2, layout.ParameterCopies);
        Assert.Equal([(0, 7), (1, 6), (2, 5), (3, 4), (4, 3), (5, 2), (6, 1), (7, 0)],
            Enumerable.Range(0, 8).Select(r => (layout.StageOf(r, PipelineDirection.A), layout.StageOf(r, PipelineDirection.B))));
    }

    [Fact]
    public void DualPipeV_rank_r_holds_stage_r_and_2P_minus_1_minus_r()
    {
        var layout = new StageLayout(ScheduleKind.DualPipeV, 4);
        Assert.Equal(8, layout.Stages);
        Assert.Equal(1, layout.ParameterCopies);
        Assert.Equal([(0, 7), (1, 6), (2, 5), (3, 4)],
            Enumerable.Range(0, 4).Select(r => (layout.StageOf(r, PipelineDirection.A), layout.StageOf(r, PipelineDirection.B))));
    }

    [Fact]
    public void V3_on_16_stages_puts_embedding_and_head_with_MTP_on_rank_0_under_DualPipe()
    {
        // 61 layers + 1 MTP module = 62 blocks over 16 stages: 14 stages of 4, the two end stages 3 each.
        var split = StageLayout.SplitModel(ModelPresets.V3, 16);
        Assert.Equal(61, split.Sum(s => s.LayerCount));
        Assert.Equal(new StageModules(0, 0, 3, true, false, 0), split[0]);
        Assert.Equal(new StageModules(1, 3, 4, false, false, 0), split[1]);
        Assert.Equal(new StageModules(15, 59, 2, false, true, 1), split[15]);
        Assert.Equal(Enumerable.Range(0, 61), split.SelectMany(s => s.Layers));

        var rank0 = new StageLayout(ScheduleKind.DualPipe, 16).ModulesOf(0, ModelPresets.V3);
        Assert.True(rank0[0].HoldsEmbedding);
        Assert.True(rank0[1].HoldsHead);                                       // report §3.2.3: MTP shares them
        Assert.Equal("stage 15: layers 59–60, norm + head, 1 MTP", rank0[1].ToString());
        Assert.Single(new StageLayout(ScheduleKind.OneFOneB, 16).ModulesOf(0, ModelPresets.V3));
    }

    [Fact]
    public void More_stages_than_layers_are_refused()
    {
        var error = Assert.Throws<ScheduleLayoutException>(() => StageLayout.SplitModel(ModelPresets.Tiny, ModelPresets.Tiny.NumHiddenLayers + 1));
        Assert.Equal("every stage holds a decoder layer", error.Rule);
    }
}

import sys, warnings, numpy as np, torch, torchvision.models as tvm
warnings.simplefilter("ignore")
out = sys.argv[1]
for name, side in (("resnet34", 160), ("regnet_x_400mf", 160), ("mnasnet0_5", 160)):
    torch.manual_seed(0)
    m = getattr(tvm, name)().eval()
    torch.onnx.export(m, torch.zeros(1, 3, side, side), "%s/%s.onnx" % (out, name),
                      input_names=["input"], output_names=["output"], opset_version=13)
# a graph written with the onnx package's helpers (no PyTorch exporter): opset 17
import onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(0)
def init(name, *shape, scale=0.2):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)
inits = [init("w1", 16, 3, 3, 3), init("b1", 16), init("w2", 32, 16, 3, 3), init("b2", 32),
         init("w3", 32, 1, 3, 3), init("fc", 10, 32), init("fcb", 10),
         numpy_helper.from_array(np.array([1, 1], np.int64), "pads_hw")]
nodes = [
    helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
    helper.make_node("LeakyRelu", ["c1"], ["r1"], name="lrelu1", alpha=0.1),
    helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[2, 2],
                     pads=[0, 0, 1, 1]),
    helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", auto_pad="SAME_UPPER", strides=[2, 2]),
    helper.make_node("HardSwish", ["c2"], ["r2"], name="hswish2"),
    helper.make_node("Conv", ["r2", "w3"], ["c3"], name="dwconv3", group=32, pads=[1, 1, 1, 1]),
    helper.make_node("Add", ["c3", "r2"], ["s3"], name="residual3"),
    helper.make_node("GlobalAveragePool", ["s3"], ["g"], name="gap"),
    helper.make_node("Flatten", ["g"], ["f"], name="flatten", axis=1),
    helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], name="fc", transB=1, alpha=1.0),
    helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=-1),
]
g = helper.make_graph(nodes, "helper_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
                      [helper.make_tensor_value_info("prob", TensorProto.FLOAT, [1, 10])], inits[:-1])
model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="onnx.helper")
onnx.checker.check_model(model)
onnx.save(model, "%s/helper_cnn.onnx" % out)

"""A built-in-style plugin that needs the external ``demo_widgets`` plugin."""
from core.plugins import PluginInfo

PLUGIN = PluginInfo(name="demo_reports", title="演示报表", version="0.1",
                    description="依赖演示插件的插件，只供沧浪区、平江区使用",
                    requires=("demo_widgets",), regions=("320502", "320503"))

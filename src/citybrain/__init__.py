"""citybrain — urban operational-safety platform (城市大脑): sense → warn → act → close → learn."""

__version__ = "0.1.0"
